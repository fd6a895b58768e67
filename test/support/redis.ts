/**
 * A real redis-server for the tests, on a free loopback port, in its own temporary directory.
 * `findRedisServer()` is undefined when the binary is absent; CI installs it (.ci/run).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { createServer, Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const findRedisServer = (): string | undefined => {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim()
  return found || undefined
}

export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

const answersPing = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = new Socket()
    socket.setTimeout(500)
    socket.once("data", (data) => {
      socket.destroy()
      resolve(data.toString().startsWith("+PONG"))
    })
    socket.once("error", () => resolve(false))
    socket.once("timeout", () => {
      socket.destroy()
      resolve(false)
    })
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"))
  })

export interface RedisServer {
  readonly url: string
  readonly port: number
  readonly dir: string
  /** Kills the server at once (SIGKILL), as a crash would. */
  readonly kill: () => Promise<void>
  /** Starts it again on the same port and data directory. */
  readonly restart: () => Promise<void>
  readonly stop: () => Promise<void>
}

export const startRedis = async (binary: string): Promise<RedisServer> => {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "keyway-redis-"))
  let child: ChildProcess | undefined
  const launch = async () => {
    child = spawn(
      binary,
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
      ],
      {
        stdio: "ignore",
      },
    )
    for (let i = 0; i < 100; i++) {
      if (await answersPing(port)) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`redis-server did not start on port ${port}`)
  }
  const kill = async () => {
    const running = child
    if (!running || running.exitCode !== null) return
    await new Promise<void>((resolve) => {
      running.once("exit", () => resolve())
      running.kill("SIGKILL")
    })
  }
  await launch()
  return { url: `redis://127.0.0.1:${port}`, port, dir, kill, restart: launch, stop: kill }
}
