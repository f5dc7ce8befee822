/**
 * Free loopback ports for processes the project starts itself.
 *
 * Ports come from 20000–32767, below Linux's default ephemeral range (32768–60999), which is
 * where the kernel picks the local ports of outgoing connections and of `listen(0)`. A port of a
 * node that is stopped and started again (a restart keeps its ports, so peers' URIs stay valid)
 * is then not handed to some client connection in between. Each pick is random and checked by
 * binding it, so parallel test workers rarely try the same one.
 */
import { createServer } from "node:net";

const LOW = 20_000;
const HIGH = 32_767;

/** Whether 127.0.0.1:port can be listened on right now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      srv.close(() => resolve(true));
    });
  });
}

/** Asks the kernel for any free port (the fallback when the fixed range is crowded). */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") {
        srv.close();
        reject(new Error("could not read the address of a probe socket"));
        return;
      }
      const port = addr.port;
      srv.close(() => resolve(port));
    });
  });
}

/** A free TCP port on 127.0.0.1, from 20000–32767 when one is found in 64 tries. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 64; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (await portIsFree(port)) return port;
  }
  return kernelPort();
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < count) out.add(await freePort());
  return [...out];
}
