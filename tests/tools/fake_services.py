#!/usr/bin/env python3
"""A real HTTP server on loopback for the tool tests, answering in Home Assistant's and
Open-Meteo's shapes and serving ICS files. It records every request it gets.

  fake_services.py [--tls-cert CERT --tls-key KEY] [--data DIR]

Prints "PORT <n>" once listening on 127.0.0.1 (port chosen by the OS).

Routes (any route may be prefixed by a mode segment that changes the behaviour):
  GET  /api/states                  Home Assistant states (needs "Bearer good-token", else 401)
  POST /api/template                renders our areas template as JSON (canned areas)
  POST /api/services/light/<svc>    turn_on / turn_off / toggle: changes state, returns changed
  GET  /v1/search?name=..           Open-Meteo geocoding ("Nowhere" has no result)
  GET  /v1/forecast?..              Open-Meteo forecast (units follow the query)
  GET  /files/<name>                a file from --data (ICS fixtures)
  GET  /__requests                  JSON list of the requests recorded so far
  POST /__reset                     forget recorded requests and restore the lights
Modes: /malformed/... answers "{not json"; /slow/... sleeps 3 s first; /status500/... answers
500; /noareas/... makes /api/template answer 404 (an HA without the template API);
/deepattrs/... gives the first light an attribute nested 100,000 levels deep (a hostile server).
"""
import argparse
import copy
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LIGHTS = [
    ("light.living_room_ceiling", "Living Room Ceiling", "on", 200),
    ("light.living_room_lamp", "Living Room Floor Lamp", "off", None),
    ("light.kitchen_ceiling", "Kitchen Ceiling", "off", None),
    ("light.kitchen_counter", "Kitchen Counter", "on", 128),
    ("light.hallway", "Hallway", "off", None),
    ("light.office_desk", "Desk Lamp", "off", None),  # in the Office area, no "office" in name
]
AREAS = [
    {"id": "living_room", "name": "Living Room",
     "lights": ["light.living_room_ceiling", "light.living_room_lamp"]},
    {"id": "kitchen", "name": "Kitchen", "lights": ["light.kitchen_ceiling", "light.kitchen_counter"]},
    {"id": "office", "name": "Office", "lights": ["light.office_desk"]},
    {"id": "garden", "name": "Garden", "lights": []},
]


def initial_states():
    states = {}
    for eid, name, state, bri in LIGHTS:
        attrs = {"friendly_name": name, "supported_color_modes": ["hs", "color_temp"]}
        if bri is not None:
            attrs["brightness"] = bri
        states[eid] = {"entity_id": eid, "state": state, "attributes": attrs,
                       "last_changed": "2024-03-01T10:00:00+00:00"}
    states["sensor.outdoor_temp"] = {"entity_id": "sensor.outdoor_temp", "state": "12.5",
                                     "attributes": {"friendly_name": "Outdoor Temperature"}}
    return states


class State:
    lock = threading.Lock()
    requests = []
    lights = initial_states()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    data_dir = "."

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, status, body, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        url = urlsplit(self.path)
        path = url.path
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if path == "/__requests":
            with State.lock:
                return self.send(200, State.requests)
        if path == "/__reset":
            with State.lock:
                State.requests = []
                State.lights = initial_states()
            return self.send(200, {})
        with State.lock:
            State.requests.append({"method": method, "path": path, "query": query, "body": body,
                                   "authorization": self.headers.get("Authorization", "")})
        mode = ""
        for m in ("malformed", "slow", "status500", "noareas", "deepattrs"):
            if path.startswith("/" + m + "/"):
                mode, path = m, path[len(m) + 1:]
        if mode == "slow":
            time.sleep(3)
        if mode == "status500":
            return self.send(500, "internal error", "text/plain")
        if mode == "malformed":
            return self.send(200, "{not json", "application/json")

        if path.startswith("/api/"):
            if self.headers.get("Authorization") != "Bearer good-token":
                return self.send(401, "401: Unauthorized", "text/plain")
            if path == "/api/states" and method == "GET":
                with State.lock:
                    if mode == "deepattrs":  # written as text: json.dumps would recurse too
                        deep = "[" * 100000 + "]" * 100000
                        text = json.dumps(list(State.lights.values()))
                        text = text.replace('"attributes": {', '"attributes": {"deep": ' + deep + ", ", 1)
                        return self.send(200, text, "application/json")
                    return self.send(200, list(State.lights.values()))
            if path == "/api/template" and method == "POST":
                if mode == "noareas":
                    return self.send(404, "404: Not Found", "text/plain")
                tpl = json.loads(body).get("template", "")
                if "areas()" not in tpl or "area_entities" not in tpl:
                    return self.send(400, {"message": "unexpected template"})
                out = [{"id": a["id"], "name": a["name"], "lights": a["lights"]} for a in AREAS]
                return self.send(200, json.dumps(out), "text/plain")
            if path.startswith("/api/services/light/") and method == "POST":
                svc = path.rsplit("/", 1)[1]
                req = json.loads(body)
                ids = req.get("entity_id", [])
                if isinstance(ids, str):
                    ids = [ids]
                changed = []
                with State.lock:
                    for eid in ids:
                        if eid not in State.lights:
                            return self.send(400, {"message": "unknown entity " + eid})
                        st = State.lights[eid]
                        new = {"turn_on": "on", "turn_off": "off"}.get(svc)
                        if svc == "toggle":
                            new = "off" if st["state"] == "on" else "on"
                        if new is None:
                            return self.send(400, {"message": "unknown service " + svc})
                        st["state"] = new
                        if new == "on" and "brightness_pct" in req:
                            st["attributes"]["brightness"] = round(req["brightness_pct"] * 255 / 100)
                        if new == "off":
                            st["attributes"].pop("brightness", None)
                        changed.append(copy.deepcopy(st))
                return self.send(200, changed)
            return self.send(404, "404: Not Found", "text/plain")

        if path == "/v1/search":
            name = query.get("name", "")
            if name.lower() == "nowhere":
                return self.send(200, {"generationtime_ms": 0.5})
            return self.send(200, {"results": [{
                "id": 2950159, "name": name.title(), "latitude": 52.52437, "longitude": 13.41053,
                "country": "Germany", "admin1": "Land Berlin", "timezone": "Europe/Berlin"}],
                "generationtime_ms": 0.9})
        if path == "/v1/forecast":
            f = query.get("temperature_unit") == "fahrenheit"
            return self.send(200, {
                "latitude": float(query.get("latitude", 0)), "longitude": float(query.get("longitude", 0)),
                "timezone": "Europe/Berlin",
                "current_units": {"temperature_2m": "°F" if f else "°C",
                                  "apparent_temperature": "°F" if f else "°C",
                                  "wind_speed_10m": "mp/h" if query.get("wind_speed_unit") == "mph" else "km/h",
                                  "precipitation": "inch" if query.get("precipitation_unit") == "inch" else "mm"},
                "current": {"time": "2024-03-01T14:00", "temperature_2m": 54.5 if f else 12.5,
                            "apparent_temperature": 50.0 if f else 10.0,
                            "relative_humidity_2m": 71, "precipitation": 0.0, "weather_code": 3,
                            "wind_speed_10m": 14.4, "is_day": 1},
                "daily_units": {"temperature_2m_max": "°F" if f else "°C",
                                "precipitation_sum": "inch" if query.get("precipitation_unit") == "inch" else "mm",
                                "precipitation_probability_max": "%"},
                "daily": {"time": ["2024-03-01"], "weather_code": [61],
                          "temperature_2m_max": [58.1 if f else 14.5], "temperature_2m_min": [41.0 if f else 5.0],
                          "precipitation_probability_max": [80], "precipitation_sum": [2.4],
                          "sunrise": ["2024-03-01T06:58"], "sunset": ["2024-03-01T17:50"]}})
        if path.startswith("/files/"):
            fname = os.path.basename(path)
            full = os.path.join(self.data_dir, fname)
            if not os.path.isfile(full):
                return self.send(404, "not found", "text/plain")
            with open(full, "rb") as fh:
                return self.send(200, fh.read(), "text/calendar")
        return self.send(404, "404: Not Found", "text/plain")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--data", default=".")
    args = ap.parse_args()
    Handler.data_dir = args.data
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
