#!/bin/sh
# Starts ava-voice in a terminal window (the .desktop entry runs this with Terminal=true, so the
# desktop already opened one). Uses the user's config (~/.config/ava-voice/config.toml) and, if
# present, ~/.config/ava-voice/env for OPENAI_API_KEY and friends (KEY=value lines, like .env).
# When ava-voice fails, the window stays open until Enter so the message can be read.
# Extra arguments go to ava-voice (e.g. "doctor").

config_dir="${XDG_CONFIG_HOME:-$HOME/.config}/ava-voice"
if [ -r "$config_dir/env" ]; then
    set -a
    # shellcheck disable=SC1091
    . "$config_dir/env"
    set +a
fi

# The binary installed next to this launcher (bin/), else the one on PATH.
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
exe="$here/ava-voice"
[ -x "$exe" ] || exe=$(command -v ava-voice 2>/dev/null)
if [ -z "$exe" ]; then
    echo "ava-voice: the ava-voice program was not found (is it installed and on PATH?)"
    printf 'Press Enter to close this window. '
    read -r _
    exit 127
fi

# Run from a writable place: replies of the no-sound-card demo land in the working directory.
cd "${HOME:-/tmp}" 2>/dev/null || cd /tmp

"$exe" "$@"
status=$?
if [ "$status" -ne 0 ]; then
    echo
    echo "ava-voice exited with status $status. Try: ava-voice doctor"
    printf 'Press Enter to close this window. '
    read -r _
fi
exit "$status"
