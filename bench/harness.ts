/**
 * Side-by-side benchmarking: a subject and its baselines run in the same process run, alternating,
 * after a warm-up, and the headline is the ratio of medians, since absolute times on a shared
 * machine are noisy. Results go to bench/results/<name>.json.
 */
import { execFile } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, totalmem } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** Where results go: bench/results, unless BENCH_RESULTS_DIR says otherwise (the smoke test does). */
export const resultsDir = (): string =>
  process.env.BENCH_RESULTS_DIR ?? fileURLToPath(new URL("./results/", import.meta.url))

export interface Contender {
  readonly name: string
  /** One measured run; returns how many units of work it did (records, requests...). */
  readonly run: () => Promise<number>
  /** A smaller run for the warm-up, where the measured one is long; defaults to `run`. */
  readonly warmup?: () => Promise<number>
}

export interface Stats {
  readonly name: string
  readonly medianMs: number
  readonly minMs: number
  readonly maxMs: number
  readonly unitsPerSecond: number
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

export const compare = async (
  contenders: ReadonlyArray<Contender>,
  options: { readonly rounds: number; readonly warmup: number },
): Promise<ReadonlyArray<Stats>> => {
  for (let i = 0; i < options.warmup; i++) for (const c of contenders) await (c.warmup ?? c.run)()
  const times = new Map<string, number[]>(contenders.map((c) => [c.name, []]))
  const units = new Map<string, number>()
  for (let round = 0; round < options.rounds; round++) {
    // Alternate the order each round so neither side always runs on a warmer machine.
    const order = round % 2 === 0 ? contenders : [...contenders].reverse()
    for (const contender of order) {
      const started = performance.now()
      units.set(contender.name, await contender.run())
      times.get(contender.name)?.push(performance.now() - started)
    }
  }
  return contenders.map((c) => {
    const samples = times.get(c.name) ?? []
    const medianMs = median(samples)
    return {
      name: c.name,
      medianMs,
      minMs: Math.min(...samples),
      maxMs: Math.max(...samples),
      unitsPerSecond: ((units.get(c.name) ?? 0) / medianMs) * 1000,
    }
  })
}

export const machine = () => ({
  node: process.version,
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  date: new Date().toISOString(),
})

export const report = (name: string, stats: ReadonlyArray<Stats>, extra: Record<string, unknown> = {}): void => {
  const [subject, ...baselines] = stats
  if (!subject) return
  const rows = stats.map((s) => ({
    contender: s.name,
    "median ms": s.medianMs.toFixed(1),
    "min ms": s.minMs.toFixed(1),
    "max ms": s.maxMs.toFixed(1),
    "units/s": Math.round(s.unitsPerSecond),
    "time ratio": (s.medianMs / subject.medianMs).toFixed(2),
  }))
  console.log(`\n${name}`)
  console.table(rows)
  const ratios = Object.fromEntries(baselines.map((b) => [b.name, subject.medianMs / b.medianMs]))
  for (const [baseline, ratio] of Object.entries(ratios)) {
    console.log(`${subject.name} takes ${ratio.toFixed(2)}x the time of ${baseline}`)
  }
  for (const [key, value] of Object.entries(extra)) console.log(`${key}: ${JSON.stringify(value)}`)
  const dir = resultsDir()
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, `${name}.json`),
    `${JSON.stringify({ name, machine: machine(), stats, timeRatioToBaselines: ratios, ...extra }, null, 2)}\n`,
  )
}

const profileFlags = (contender: string): string[] =>
  process.env.CPU_PROF
    ? ["--cpu-prof", "--cpu-prof-dir", process.env.CPU_PROF, "--cpu-prof-name", `${contender}-${Date.now()}.cpuprofile`]
    : []

/**
 * One contender, alone in its own process: `node <script> ...args`, from the bundled dist/ (no tsx),
 * so its peak RSS is its own. The script prints one JSON line last; it is returned parsed. Run
 * asynchronously, so a server in this process answers while the child runs. With `CPU_PROF=<dir>`,
 * each child writes a V8 CPU profile there, named after its first argument (the contender);
 * `node bench/support/profile-summary.mjs <file> <units>` reads one.
 */
export const runInOwnProcess = <A>(script: URL, args: ReadonlyArray<string>): Promise<A> =>
  new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [...profileFlags(args[0] ?? "child"), script.pathname, ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`${script.pathname} ${args[0]}: ${error.message}\n${stderr}`))
          : resolve(JSON.parse(stdout.trim().split("\n").at(-1) as string) as A),
    ),
  )

/** Another running process's resident set now (VmRSS) and its peak so far (VmHWM), from /proc, in MiB. */
export const memoryOf = (pid: number): { readonly rssMb: number; readonly hwmMb: number } => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN)
  return { rssMb: kib("VmRSS") / 1024, hwmMb: kib("VmHWM") / 1024 }
}

/** What each contender's process reports of one run. */
export interface ProcessRun {
  readonly ms: number
  readonly units: number
  readonly peakRssMb: number
}

export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
}

export const spread = (values: ReadonlyArray<number>): Spread => ({
  median: Number(median(values).toFixed(1)),
  min: Number(Math.min(...values).toFixed(1)),
  max: Number(Math.max(...values).toFixed(1)),
})

/**
 * Each contender `runs` times, each run in a fresh process, alternating so neither always runs on a
 * warmer machine. Returns the stats for `report`, and each contender's runs.
 */
export const compareInProcesses = async <R extends ProcessRun>(
  script: URL,
  contenders: ReadonlyArray<{ readonly name: string; readonly args: ReadonlyArray<string> }>,
  runs: number,
): Promise<{ stats: Stats[]; runs: Map<string, R[]> }> => {
  const all = new Map<string, R[]>(contenders.map((c) => [c.name, []]))
  for (let run = 0; run < runs; run++) {
    for (const contender of run % 2 === 0 ? contenders : [...contenders].reverse()) {
      all.get(contender.name)?.push(await runInOwnProcess<R>(script, contender.args))
    }
  }
  const stats = contenders.map((c) => {
    const done = all.get(c.name) ?? []
    const times = spread(done.map((r) => r.ms))
    return {
      name: c.name,
      medianMs: times.median,
      minMs: times.min,
      maxMs: times.max,
      unitsPerSecond: ((done[0]?.units ?? 0) / times.median) * 1000,
    }
  })
  return { stats, runs: all }
}
