#!/usr/bin/env python3
"""http_corrupt_server.py: a misbehaving MNIST mirror on 127.0.0.1 for tests/cli_data.sh.

Serves the files of --dir, damaged according to --mode:
  corrupt   valid gzip whose content has one byte flipped (a checksum mismatch)
  truncate  the first half of each file (truncated gzip)
  flip      one byte of the .gz flipped (bad gzip data or CRC)
  404       every request answered 404
  redirect  302 to --target + the same file name
  huge      announces a 100 MiB body, then closes (over the downloader's size limit)
Binds port 0 and writes the port it got to --port-file once it listens.
"""
import argparse
import gzip
import http.server
import os
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--mode", required=True,
                    choices=["corrupt", "truncate", "flip", "404", "redirect", "huge"])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--target", default="")
    args = ap.parse_args()
    cache = {}
    lock = threading.Lock()

    def damaged(name):
        with lock:
            if name in cache:
                return cache[name]
            with open(os.path.join(args.dir, name), "rb") as f:
                data = f.read()
            if args.mode == "corrupt":
                try:
                    raw = bytearray(gzip.decompress(data))
                except (OSError, EOFError):
                    raw = bytearray(data)
                raw[len(raw) // 2] ^= 0x01
                data = gzip.compress(bytes(raw), compresslevel=1)
            elif args.mode == "truncate":
                data = data[: len(data) // 2]
            elif args.mode == "flip":
                data = bytearray(data)
                data[len(data) // 2] ^= 0x55
                data = bytes(data)
            cache[name] = data
            return data

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            pass

        def do_GET(self):
            name = os.path.basename(self.path.split("?", 1)[0])
            if args.mode == "404" or not name or not os.path.isfile(os.path.join(args.dir, name)):
                self.send_error(404)
                return
            if args.mode == "redirect":
                self.send_response(302)
                self.send_header("Location", args.target + name)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if args.mode == "huge":
                self.send_response(200)
                self.send_header("Content-Length", str(100 << 20))
                self.end_headers()
                self.wfile.write(b"\0" * 1024)
                return
            data = damaged(name)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
