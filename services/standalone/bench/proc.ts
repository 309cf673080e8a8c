/**
 * CPU time and memory of processes, read from /proc (Linux only), so the figures
 * cover the whole stack (PostgreSQL backends, nats-server, child node processes)
 * and not just this process.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

const CLOCK_TICKS = ((): number => {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    return Number.isFinite(value) && value > 0 ? value : 100
  } catch {
    return 100
  }
})()

interface Stat {
  comm: string
  /** utime + stime of the process itself, in clock ticks. */
  own: number
  /** cutime + cstime: what its children used before it reaped them. */
  reaped: number
}

function readStat (pid: number | 'self'): Stat | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // comm is in parentheses and may itself hold spaces or parentheses: the last ')' ends it.
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  const fields = text.slice(close + 2).split(' ')
  // Fields after comm start at field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const field = (n: number): number => Number(fields[n - 3] ?? 0)
  return { comm: text.slice(open + 1, close), own: field(14) + field(15), reaped: field(16) + field(17) }
}

function allPids (): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number)
}

/** A cumulative CPU counter (seconds) of one part of the stack. */
export interface CpuSource {
  readonly part: string
  read (): number
}

/**
 * Every process named `comm`, including the ones that exit: a process that ends is
 * reaped by its parent (the postmaster for a backend), whose cutime/cstime then holds
 * its CPU, so summing own + reaped over the live set loses nothing between two reads.
 */
export function processesNamed (part: string, comm: string): CpuSource {
  return {
    part,
    read () {
      let ticks = 0
      for (const pid of allPids()) {
        const stat = readStat(pid)
        if (stat?.comm === comm) ticks += stat.own + stat.reaped
      }
      return ticks / CLOCK_TICKS
    }
  }
}

/** Fixed processes (the children the bench started for a target). */
export function processes (part: string, pids: readonly number[]): CpuSource {
  return {
    part,
    read () {
      let ticks = 0
      for (const pid of pids) {
        const stat = readStat(pid)
        if (stat !== undefined) ticks += stat.own + stat.reaped
      }
      return ticks / CLOCK_TICKS
    }
  }
}

/** This process: the load generator. */
export const benchProcess: CpuSource = {
  part: 'bench',
  read () {
    const usage = process.cpuUsage()
    return (usage.user + usage.system) / 1e6
  }
}

/** Children of this process that have exited and been reaped (pgbench, once it is done). */
export const reapedChildren = (part: string): CpuSource => ({
  part,
  read () {
    return (readStat('self')?.reaped ?? 0) / CLOCK_TICKS
  }
})

export type CpuSample = Map<string, number>

export function sampleCpu (sources: readonly CpuSource[]): CpuSample {
  const sample: CpuSample = new Map()
  for (const source of sources) sample.set(source.part, (sample.get(source.part) ?? 0) + source.read())
  return sample
}

/** CPU seconds used per part between two samples. */
export function cpuUsed (before: CpuSample, after: CpuSample): CpuSample {
  const used: CpuSample = new Map()
  for (const [part, seconds] of after) used.set(part, Math.max(0, seconds - (before.get(part) ?? 0)))
  return used
}

/** Resident set size in KiB (what /proc calls kB), or undefined when the process is gone. */
export function rssKiB (pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
    return match?.[1] === undefined ? undefined : Number(match[1])
  } catch {
    return undefined
  }
}

export interface FileLimit {
  soft: number
  hard: number
}

export function openFileLimit (): FileLimit | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const match = line === undefined ? null : /Max open files\s+(\S+)\s+(\S+)/.exec(line)
    if (match === null) return undefined
    const value = (s: string | undefined): number => s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s)
    return { soft: value(match[1]), hard: value(match[2]) }
  } catch {
    return undefined
  }
}

/**
 * Raises this process's soft open-file limit towards `wanted` (never above the hard
 * limit) with util-linux prlimit; children spawned afterwards inherit it.
 */
export function raiseOpenFileLimit (wanted: number): FileLimit | undefined {
  const limit = openFileLimit()
  if (limit === undefined || limit.soft >= wanted) return limit
  const soft = Math.min(wanted, limit.hard)
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:${Number.isFinite(limit.hard) ? limit.hard : 'unlimited'}`], { stdio: 'ignore' })
  } catch {
    // No prlimit: the caller reports the limit it got.
  }
  return openFileLimit()
}

export function cpuModel (): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'))
    return line?.split(':')[1]?.trim() ?? 'unknown CPU'
  } catch {
    return 'unknown CPU'
  }
}
