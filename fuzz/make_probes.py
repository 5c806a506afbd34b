#!/usr/bin/env python3
"""Writes the hostile inputs scripts/fuzz.sh runs through a fuzz target once, before fuzzing it,
and (--seeds wav) the WAV target's seed corpus: small files in the formats a user may give.

They are what a fuzzer with a small -max_len would take long to reach: nesting 100,000 deep,
numbers no double or int64 holds, invalid UTF-8, a 4 MB string, truncated base64, and WAV
headers with extreme rates and channel counts.
Usage: make_probes.py TARGET DIR | make_probes.py --seeds wav DIR
"""
import math
import os
import struct
import sys

DEEP = 100_000


def deep(open_, close, inner=""):
    return open_ * DEEP + inner + close * DEEP


def json_probes():
    arr = deep("[", "]")
    obj = deep('{"a":', "}", "1")
    p = {
        "deep_array": arr,
        "deep_object": obj,
        "deep_unclosed": "[" * DEEP,
        "done_deep_usage": '{"type":"response.done","response":{"id":"r","usage":' + arr + "}}",
        "error_deep_data": '{"type":"error","error":{"type":"x","message":"m","param":' + obj + "}}",
        "done_huge_number": '{"type":"response.done","response":{"id":"r","status":"completed",'
        '"usage":{"total_tokens":1e999999,"input_tokens":18446744073709551616,'
        '"output_tokens":-1e400}}}',
        "numbers": "[1e6464,-1e6464,1e-400,18446744073709551616,-9223372036854775809,"
        "0.0000000000000000000000000001e-330]",
        "text_delta_bad_utf8": b'{"type":"response.output_text.delta","response_id":"r","item_id":"i",'
        b'"output_index":0,"content_index":0,"delta":"\xff\xfe\xc0\xaf\xed\xa0\x80"}',
        "bad_utf8_key": b'{"type":"session.created","\xff":1,"session":{"id":"\xc3"}}',
        "lone_surrogate": '{"type":"error","error":{"message":"\\ud800\\udc00\\ud800"}}',
        "giant_message": '{"type":"error","error":{"type":"x","message":"' + "x" * (4 << 20) + '"}}',
        "giant_delta": '{"type":"response.output_audio.delta","response_id":"r","item_id":"i",'
        '"output_index":0,"content_index":0,"delta":"' + "A" * (4 << 20) + '"}',
        "audio_delta_truncated_b64": '{"type":"response.output_audio.delta","response_id":"r",'
        '"item_id":"i","output_index":0,"content_index":0,"delta":"AAA"}',
        "audio_delta_bad_b64": '{"type":"response.output_audio.delta","response_id":"r",'
        '"item_id":"i","output_index":0,"content_index":0,"delta":"A=AA"}',
        "append_truncated_b64": '{"type":"input_audio_buffer.append","audio":"AAAAAA="}',
        "append_odd_bytes": '{"type":"input_audio_buffer.append","audio":"AAA="}',
        "mcp_deep_result": '{"jsonrpc":"2.0","id":1,"result":{"structuredContent":' + arr + "}}",
        "mcp_deep_garbage": '{"jsonrpc":"1.0","id":1,"result":' + arr + "}",
        "mcp_tools_deep_schema": '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"t",'
        '"inputSchema":' + deep('{"type":"array","items":', "}", "true") + "}]}}",
    }
    return p


def sim_client_probes():
    """The JSON probes, and session.update / response.create with hostile values."""
    p = json_probes()
    p.update({
        "update_deep_tools": '{"type":"session.update","session":{"type":"realtime","tools":[{'
        '"type":"function","name":"f","parameters":' + "[" * 60 + "]" * 60 + "}]}}",
        "update_huge_numbers": '{"type":"session.update","session":{"type":"realtime",'
        '"audio":{"input":{"turn_detection":{"type":"server_vad","threshold":1e999999,'
        '"silence_duration_ms":18446744073709551616,"prefix_padding_ms":-1e400}},'
        '"output":{"speed":1e308}},"max_output_tokens":-9223372036854775809}}',
        "update_nulls": '{"type":"session.update","session":{"type":"realtime","audio":null,'
        '"tools":null,"instructions":null,"tool_choice":null,"turn_detection":null}}',
        "update_wrong_types": '{"type":"session.update","session":{"type":"realtime",'
        '"audio":[],"tools":{},"output_modalities":"audio","voice":7}}',
        "update_bad_utf8": b'{"type":"session.update","session":{"type":"realtime",'
        b'"instructions":"\xff\xfe\xed\xa0\x80","audio":{"output":{"voice":"\xc3"}}}}',
        "response_hostile": '{"type":"response.create","response":{"conversation":"none",'
        '"input":[' + ",".join(['{"type":"message","role":"user","content":[]}'] * 2000) + '],'
        '"metadata":{"k":"' + "v" * (1 << 20) + '"},"max_output_tokens":1e999}}',
        "response_not_object": '{"type":"response.create","response":[1,2,3]}',
    })
    return p


def relay_probes():
    """The JSON probes, and the relay's own messages with hostile values."""
    p = json_probes()
    p.update({
        "relay_deep_settings": '{"type":"settings","turn_detection":' + deep("{\"a\":", "}", "1") + "}",
        "relay_huge_speed": '{"type":"settings","speed":1e308}',
        "relay_nan_position": '{"type":"playback_position","item_id":"i","played_ms":NaN}',
        "relay_huge_position": '{"type":"playback_position","item_id":"i","played_samples":1e30}',
        "relay_negative_ms": '{"type":"playback_position","item_id":"i","played_ms":-0.5}',
        "relay_long_item": '{"type":"playback_position","item_id":"' + "i" * 100000 + '","played_ms":1}',
        "relay_bad_utf8_text": b'{"type":"text_input","text":"\xff\xfe"}',
        "relay_long_text": '{"type":"text_input","text":"' + "a" * 200000 + '"}',
        "relay_type_object": '{"type":{"type":"ping"}}',
    })
    return p


def schema_probes():
    p = {}
    for name, text in json_probes().items():
        body = text if isinstance(text, bytes) else text.encode()
        p["schema_" + name] = body + b"\n{}"
        p["args_" + name] = b'{"type":"object"}\n' + body
    p["deep_items_schema"] = (deep('{"type":"array","items":', "}", "true") + "\n[[[1]]]").encode()
    p["deep_properties_schema"] = (deep('{"properties":{"a":', "}}", "{}") + "\n{}").encode()
    p["enum_deep_args"] = ('{"enum":[1]}\n' + deep("[", "]")).encode()
    p["empty_type_array"] = b'{"type":[]}\n1'
    p["huge_limits"] = b'{"maxLength":1e308,"minItems":-1e308}\n"x"'
    return p


def toml_probes():
    return {
        "deep_arrays": "[session]\nvoice = " + deep("[", "]"),
        "deep_inline_tables": "x = " + deep("{a=", "}", "1"),
        "deep_tables": "[" + ".".join(["a"] * 20000) + "]\n",
        "giant_string": '[session]\ninstructions = "' + "x" * (4 << 20) + '"\n',
        "bad_utf8": b'[session]\nvoice = "\xff\xfe"\n',
        "huge_numbers": "[vad]\nthreshold = 1e999999\nsilence_ms = 99999999999999999999\n"
        "prefix_ms = -9223372036854775809\n",
        "command_deep_schema": '[[tools.command]]\nname = "t"\nargv = ["true"]\nparameters = \'' +
        deep('{"type":"array","items":', "}", "true") + "'\n",
        "command_huge_schema_number": '[[tools.command]]\nname = "t"\nargv = ["true"]\n'
        'parameters = \'{"type":"number","maximum":1e6464}\'\n',
    }


def wav(rate, channels, bits=16, fmt=1, frames=64, extra=b"", data=None):
    block = channels * bits // 8
    if data is None:
        data = bytes(frames * max(block, 1))
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, (rate * block) & 0xFFFFFFFF,
                            block & 0xFFFF, bits) + extra
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def wav_probes():
    return {
        "rate_1": wav(1, 1),
        "rate_max": wav(0x7FFFFFFF, 1),
        "rate_768000_stereo": wav(768000, 2, frames=2000),
        "rate_1000": wav(1000, 1, frames=2000),
        "channels_1024": wav(24000, 1024, frames=4),
        "channels_65535": wav(24000, 65535, frames=1),
        "float_nan": wav(24000, 1, bits=32, fmt=3, frames=0) [:-8] + b"data" +
        struct.pack("<I", 16) + struct.pack("<4f", float("nan"), float("inf"), -float("inf"), 3e38),
        "data_size_lies": wav(48000, 2)[:-256][:40] + struct.pack("<I", 0xFFFFFFF0) + bytes(256),
        "truncated_header": wav(24000, 1)[:30],
    }


def tone(rate, channels, bits, fmt, frames=300):
    out = b""
    for i in range(frames):
        v = 0.5 * math.sin(2 * math.pi * 440 * i / rate)
        for _ in range(channels):
            if fmt == 3:
                out += struct.pack("<f" if bits == 32 else "<d", v)
            elif bits == 8:
                out += struct.pack("<B", int(128 + 127 * v))
            elif bits == 24:
                out += int(v * 8388607).to_bytes(3, "little", signed=True)
            else:
                out += int(v * (2 ** (bits - 1) - 1)).to_bytes(bits // 8, "little", signed=True)
    return wav(rate, channels, bits, fmt, data=out)


def wav_seeds():
    return {
        "s16_24k_mono": tone(24000, 1, 16, 1),
        "s16_48k_stereo": tone(48000, 2, 16, 1),
        "u8_8k_mono": tone(8000, 1, 8, 1),
        "s24_44k_mono": tone(44100, 1, 24, 1),
        "s32_16k_mono": tone(16000, 1, 32, 1),
        "f32_24k_mono": tone(24000, 1, 32, 3),
        "f64_22k_stereo": tone(22050, 2, 64, 3),
    }


def main():
    if sys.argv[1] == "--seeds":
        target, out = sys.argv[2], sys.argv[3]
        probes = {"wav": wav_seeds}[target]()
        os.makedirs(out, exist_ok=True)
        for name, body in probes.items():
            with open(os.path.join(out, name + ".wav"), "wb") as f:
                f.write(body)
        return
    target, out = sys.argv[1], sys.argv[2]
    probes = {"server_event": json_probes, "client_event": json_probes, "mcp": json_probes,
              "relay_control": relay_probes, "sim_client": sim_client_probes, "schema": schema_probes, "config": toml_probes,
              "wav": wav_probes}[target]()
    os.makedirs(out, exist_ok=True)
    for name, body in probes.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(body if isinstance(body, bytes) else body.encode())


if __name__ == "__main__":
    main()
