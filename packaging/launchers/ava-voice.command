#!/bin/bash
# macOS launcher: double-click in Finder opens Terminal.app and runs ava-voice with the user's
# config (~/Library/Application Support/ava-voice/config.toml or $XDG_CONFIG_HOME). Keys from
# ~/.config/ava-voice/env (KEY=value lines) are loaded when present. On an error the window stays
# open until Enter so the message can be read.

for dir in "$HOME/Library/Application Support/ava-voice" "${XDG_CONFIG_HOME:-$HOME/.config}/ava-voice"; do
    if [ -r "$dir/env" ]; then
        set -a
        # shellcheck disable=SC1091
        . "$dir/env"
        set +a
        break
    fi
done

here="$(cd "$(dirname "$0")" && pwd)"
exe=""
for candidate in "$here/ava-voice" "$here/../../../bin/ava-voice" /opt/homebrew/bin/ava-voice \
                 /usr/local/bin/ava-voice; do
    if [ -x "$candidate" ]; then exe="$candidate"; break; fi
done
[ -n "$exe" ] || exe="$(command -v ava-voice)"
if [ -z "$exe" ]; then
    echo "ava-voice: the ava-voice program was not found (brew install ava-voice, or put it on PATH)"
    read -r -p "Press Enter to close this window. " _
    exit 127
fi

cd "$HOME" || exit 1
"$exe" "$@"
status=$?
if [ $status -ne 0 ]; then
    echo
    echo "ava-voice exited with status $status. Try: ava-voice doctor"
    read -r -p "Press Enter to close this window. " _
fi
exit $status
