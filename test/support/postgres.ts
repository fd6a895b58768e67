/**
 * A real PostgreSQL server for the tests: a throwaway cluster (initdb) on a free loopback port, in its
 * own temporary directory, run as the `postgres` user when the tests run as root (PostgreSQL refuses
 * root). `findPostgres()` is undefined when Debian's postgresql is absent; CI installs it (.ci/run).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { chownSync, existsSync, mkdtempSync, readdirSync } from "node:fs"
import { tmpdir, userInfo } from "node:os"
import { join } from "node:path"
import { freePort } from "./redis.ts"

export const findPostgres = (): string | undefined => {
  const root = "/usr/lib/postgresql"
  if (!existsSync(root)) return undefined
  const version = readdirSync(root).sort().at(-1)
  const bin = version ? join(root, version, "bin") : undefined
  return bin && existsSync(join(bin, "initdb")) ? bin : undefined
}

export interface PostgresServer {
  readonly url: string
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
}

export const startPostgres = async (bin: string): Promise<PostgresServer> => {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "keyway-postgres-"))
  const asRoot = userInfo().uid === 0
  const as = (command: string, args: string[]) => {
    const full = join(bin, command)
    return asRoot
      ? execFileSync("runuser", ["-u", "postgres", "--", full, ...args], { stdio: "pipe" })
      : execFileSync(full, args, { stdio: "pipe" })
  }
  if (asRoot) {
    const { uid, gid } = {
      uid: Number(spawnSync("id", ["-u", "postgres"]).stdout),
      gid: Number(spawnSync("id", ["-g", "postgres"]).stdout),
    }
    chownSync(dir, uid, gid)
  }
  const data = join(dir, "data")
  as("initdb", ["-D", data, "--auth=trust", "-U", "postgres", "--no-sync"])
  const start = async () => {
    as("pg_ctl", [
      "-D",
      data,
      "-l",
      join(dir, "log"),
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "-w",
      "start",
    ])
  }
  await start()
  as("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "keyway"])
  return {
    url: `postgres://postgres@127.0.0.1:${port}/keyway`,
    start,
    stop: async () => {
      as("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"])
    },
  }
}
