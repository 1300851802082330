/**
 * A tiny static server on 127.0.0.1 (random port, loopback only) with two modes, chosen by the
 * first path segment:
 *   /isolated/...  sends Cross-Origin-Opener-Policy: same-origin and
 *                  Cross-Origin-Embedder-Policy: require-corp, so the page is cross-origin
 *                  isolated (SharedArrayBuffer, WASM threads);
 *   /plain/...     sends neither (no SharedArrayBuffer: the cpu backend runs single-threaded).
 * WebAssembly is served as application/wasm (streaming compilation, no fallback warning).
 * The rest of the path is looked up in `files` (in-memory pages and bundles) and then under
 * `mounts` (URL prefix -> folder on disk, e.g. /fixtures/ -> the repository's fixtures/).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import type { AddressInfo } from "node:net";

export type Mode = "isolated" | "plain";

export const ISOLATION_HEADERS: Record<string, string> = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".safetensors": "application/octet-stream",
};

export interface StaticServer {
  /** http://127.0.0.1:PORT/MODE/ */
  url(mode: Mode, path?: string): string;
  /** Every request, as "STATUS METHOD PATH" (for failure messages). */
  readonly log: string[];
  close(): Promise<void>;
}

export async function startServer(files: Record<string, { body: string | Uint8Array; type?: string }>, mounts: Record<string, string>): Promise<StaticServer> {
  const log: string[] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const m = /^\/(isolated|plain)(\/.*)$/.exec(url.pathname);
    const send = (status: number, body: string | Uint8Array, type = "text/plain; charset=utf-8") => {
      if (m?.[1] === "isolated") for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
      res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" });
      res.end(body);
      log.push(`${status} ${req.method} ${url.pathname}`);
    };
    if (!m || (req.method !== "GET" && req.method !== "HEAD")) return send(404, "not found");
    const path = decodeURIComponent(m[2]);
    const file = files[path];
    if (file) return send(200, file.body, file.type ?? TYPES[extname(path)] ?? "application/octet-stream");
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (!path.startsWith(prefix)) continue;
      const full = normalize(join(dir, path.slice(prefix.length)));
      if (!full.startsWith(normalize(dir) + sep)) return send(403, "outside the mount");
      try {
        return send(200, new Uint8Array(await readFile(full)), TYPES[extname(full)] ?? "application/octet-stream");
      } catch {
        return send(404, "not found");
      }
    }
    return send(404, "not found");
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      res.destroy();
      log.push(`ERR ${req.url}: ${(e as Error).message}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    url: (mode, path = "") => `http://127.0.0.1:${port}/${mode}/${path}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5_000); // never hang a test run on a lingering connection
        server.closeAllConnections();
        server.close(() => {
          clearTimeout(t);
          resolve();
        });
      }),
  };
}
