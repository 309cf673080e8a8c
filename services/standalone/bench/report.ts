/**
 * The side-by-side table: one row per figure, one column per target, the
 * product's figures as ratios to the floor and to pgbench, and the "done when"
 * target with a verdict per product target. Verdicts inform; they never change
 * the exit code.
 */
import type { Errors, TargetResults } from './results.js'
import type { Settings } from './settings.js'
import { say } from './util.js'

type Column = 'floor' | 'pgbench' | 'standalone' | 'split'
type Product = 'standalone' | 'split'
const PRODUCTS: readonly Product[] = ['standalone', 'split']

function num (value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '–'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function ms (value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–'
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : num(value)
}

function ratio (a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return ''
  const r = a / b
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)}×`
}

export function errorsText (errors: Errors | undefined): string {
  if (errors === undefined) return '–'
  if (errors.total === 0) return '0'
  return [...errors.byCode].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code}×${num(n)}`).join(' ')
}

function errorsShort (errors: Errors | undefined): string {
  return errors === undefined ? '–' : num(errors.total)
}

function verdict (ok: boolean | undefined): string {
  return ok === undefined ? '' : ok ? 'PASS' : 'FAIL'
}

interface Row {
  metric: string
  cells: Partial<Record<Column, string>>
  /** The value ratios are computed from, per column. */
  values?: Partial<Record<Column, number>>
  vsFloor?: boolean
  vsPgbench?: boolean
  target?: string
  pass?: Partial<Record<Product, boolean>>
}

function byColumn (results: readonly TargetResults[]): Partial<Record<Column, TargetResults>> {
  const map: Partial<Record<Column, TargetResults>> = {}
  for (const r of results) map[r.target as Column] = r
  return map
}

function rows (all: Partial<Record<Column, TargetResults>>, settings: Settings): Row[] {
  const cols: Column[] = ['floor', 'pgbench', 'standalone', 'split']
  const each = <T>(pick: (r: TargetResults) => T | undefined, cols2: readonly Column[] = cols): Partial<Record<Column, T>> => {
    const out: Partial<Record<Column, T>> = {}
    for (const c of cols2) {
      const r = all[c]
      const v = r === undefined ? undefined : pick(r)
      if (v !== undefined) out[c] = v
    }
    return out
  }
  const fmt = <T>(values: Partial<Record<Column, T>>, f: (v: T) => string): Partial<Record<Column, string>> => {
    const out: Partial<Record<Column, string>> = {}
    for (const [c, v] of Object.entries(values) as Array<[Column, T]>) out[c] = f(v)
    return out
  }
  const passes = (test: (r: TargetResults) => boolean | undefined): Partial<Record<Product, boolean>> => {
    const out: Partial<Record<Product, boolean>> = {}
    for (const p of PRODUCTS) {
      const r = all[p]
      const v = r === undefined ? undefined : test(r)
      if (v !== undefined) out[p] = v
    }
    return out
  }

  const pgTps = all.pgbench?.pgbench?.lifecyclesPerSecond
  const rate = each((r) => r.oneToOne?.lifecyclesPerSecond ?? r.pgbench?.lifecyclesPerSecond)
  const cpu = each((r) => r.oneToOne?.stackCpuUs ?? r.pgbench?.stackCpuUs)
  const tenRate = each((r) => r.tenByTen?.payloadsPerSecond)
  const latencyP99 = each((r) => r.latency?.p99Ms)
  const joins = each((r) => r.idle?.joinsPerSecond)
  const memory = each((r) => r.idle?.perConnectionKiB)
  const offered = settings.latencyRooms * 2 * settings.latencyRate

  return [
    {
      metric: '1:1 full lifecycles/s',
      cells: { ...fmt(rate, (v) => num(v)), ...(pgTps === undefined ? {} : { pgbench: `${num(pgTps)} durable` }) },
      values: rate, vsFloor: true, vsPgbench: true,
      target: pgTps === undefined ? '≥ 0.85 × pgbench; stretch 2×' : `≥ ${num(0.85 * pgTps)} (0.85 × pgbench); stretch ${num(2 * pgTps)}`,
      pass: passes((r) => pgTps === undefined || r.oneToOne === undefined ? undefined : r.oneToOne.lifecyclesPerSecond >= 0.85 * pgTps)
    },
    {
      metric: '1:1 stack CPU µs/lifecycle',
      cells: fmt(cpu, (v) => num(v)), values: cpu, vsFloor: true, vsPgbench: true,
      target: '≤ 1,000',
      pass: passes((r) => r.oneToOne === undefined ? undefined : r.oneToOne.stackCpuUs <= 1000)
    },
    {
      metric: '1:1 send→payload p50 / p99 ms',
      cells: fmt(each((r) => r.oneToOne), (o) => `${ms(o.payloadP50Ms)} / ${ms(o.payloadP99Ms)}`)
    },
    {
      metric: '1:1 error frames / rows left',
      cells: fmt(each((r) => r.oneToOne), (o) => `${errorsShort(o.errors)} / ${num(o.rowsLeft)}`)
    },
    {
      metric: '10×10 payloads delivered/s',
      cells: fmt(tenRate, (v) => num(v)), values: tenRate, vsFloor: true,
      target: '≥ 5,000, all confirmed, 0 rows',
      pass: passes((r) => {
        const t = r.tenByTen
        return t === undefined ? undefined : t.payloadsPerSecond >= 5000 && t.confirmations >= t.expectedPayloads && t.messagesCompleted === t.messages && (t.rowsLeft ?? 0) === 0
      })
    },
    {
      metric: '10×10 confirmed of expected; wall s',
      cells: fmt(each((r) => r.tenByTen), (t) => `${num(t.confirmations)}/${num(t.expectedPayloads)}; ${t.wallSeconds.toFixed(1)}`)
    },
    {
      metric: '10×10 error frames / rows left',
      cells: fmt(each((r) => r.tenByTen), (t) => `${errorsShort(t.errors)} / ${num(t.rowsLeft)}`)
    },
    {
      metric: `latency @${num(offered)}/s: p50 / p99 / max ms`,
      cells: fmt(each((r) => r.latency), (l) => `${ms(l.p50Ms)} / ${ms(l.p99Ms)} / ${ms(l.maxMs)}`),
      values: latencyP99, vsFloor: true,
      target: 'p99 ≤ 20 ms',
      pass: passes((r) => r.latency === undefined ? undefined : r.latency.p99Ms <= 20 && r.latency.completed === r.latency.sends)
    },
    {
      metric: 'latency completed / sent',
      cells: fmt(each((r) => r.latency), (l) => `${num(l.completed)}/${num(l.sends)}`)
    },
    {
      metric: `overload offered/s (${settings.overloadFactor}× 1:1)`,
      cells: fmt(each((r) => r.overload), (o) => num(o.offeredPerSecond))
    },
    {
      metric: 'overload goodput/s (% of 1:1)',
      cells: fmt(each((r) => r.overload), (o) => `${num(o.goodputPerSecond)} (${num((o.goodputPerSecond / o.capacityPerSecond) * 100)} %)`),
      target: '≥ 90 % of capacity',
      pass: passes((r) => r.overload === undefined ? undefined : r.overload.goodputPerSecond >= 0.9 * r.overload.capacityPerSecond)
    },
    {
      metric: 'overload sent / refused in time',
      cells: fmt(each((r) => r.overload), (o) => `${num(o.sentInTime)} / ${num(o.refusedInTime)} of ${num(o.sends)}`)
    },
    {
      metric: 'overload late answers / none',
      cells: fmt(each((r) => r.overload), (o) => `${num(o.sentLate + o.refusedLate)} / ${num(o.neverAnswered)}`),
      target: `0: every send answered within ${settings.deadlineSeconds} s`,
      pass: passes((r) => r.overload === undefined ? undefined : r.overload.sentLate + r.overload.refusedLate + r.overload.neverAnswered === 0)
    },
    {
      metric: 'overload time to refusal p99 / max ms',
      cells: fmt(each((r) => r.overload), (o) => `${ms(o.refusalP99Ms)} / ${ms(o.refusalMaxMs)}`)
    },
    {
      metric: 'overload orphan rows',
      cells: fmt(each((r) => r.overload), (o) => num(o.orphanRows)),
      target: '0',
      pass: passes((r) => r.overload === undefined || r.overload.orphanRows === undefined ? undefined : r.overload.orphanRows === 0)
    },
    {
      metric: `idle joins/s (${num(settings.connections)} conns; s)`,
      cells: fmt(each((r) => r.idle), (i) => `${num(i.joinsPerSecond)} (${i.seconds.toFixed(1)})${i.failures.size > 0 ? ` ${num(i.wanted - i.connections)} failed` : ''}`),
      values: joins, vsFloor: true,
      target: '≥ 2,000/s; all in ≤ 3 s',
      pass: passes((r) => r.idle === undefined ? undefined : r.idle.joinsPerSecond >= 2000 && r.idle.connections === r.idle.wanted)
    },
    {
      metric: 'idle KiB per joined conn (after GC)',
      cells: fmt(each((r) => r.idle), (i) => `${num(i.perConnectionKiB, 1)} (${num(i.perConnectionAfterGcKiB, 1)})`), values: memory, vsFloor: true,
      target: '≤ 20 standalone, ≤ 10 gateway (as read)',
      pass: {
        ...(all.standalone?.idle === undefined ? {} : { standalone: all.standalone.idle.perConnectionKiB <= 20 }),
        ...(all.split?.idle === undefined ? {} : { split: all.split.idle.perConnectionKiB <= 10 })
      }
    }
  ]
}

export function printTable (results: readonly TargetResults[], settings: Settings): void {
  const all = byColumn(results)
  const header = ['metric', 'floor', 'pgbench', 'standalone', 'split', 'sa/floor', 'split/floor', 'sa/pgbench', 'split/pgbench', 'target (done when)', 'sa', 'split']
  const lines = rows(all, settings).map((row) => {
    const v = row.values ?? {}
    return [
      row.metric,
      row.cells.floor ?? '–', row.cells.pgbench ?? '–', row.cells.standalone ?? '–', row.cells.split ?? '–',
      row.vsFloor === true ? ratio(v.standalone, v.floor) : '', row.vsFloor === true ? ratio(v.split, v.floor) : '',
      row.vsPgbench === true ? ratio(v.standalone, v.pgbench) : '', row.vsPgbench === true ? ratio(v.split, v.pgbench) : '',
      row.target ?? '', verdict(row.pass?.standalone), verdict(row.pass?.split)
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => (line[i] ?? '').length)))
  const render = (cells: readonly string[]): string => cells.map((cell, i) => i === 0 || i >= 9 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)).join('  ').trimEnd()
  say(render(header))
  say(widths.map((w) => '─'.repeat(w)).join('  '))
  for (const line of lines) say(render(line))
}

function seconds (value: number): string {
  return value.toFixed(2)
}

/** One line per target with the raw parts behind the table. */
export function printDetails (results: readonly TargetResults[]): void {
  for (const r of results) {
    const parts: string[] = []
    const o = r.oneToOne
    if (o !== undefined) {
      const cpu = [...o.cpu].map(([part, s]) => `${part} ${seconds(s)}`).join(', ')
      parts.push(`1:1: ${num(o.completed)} lifecycles in ${o.windowSeconds.toFixed(1)} s; CPU s ${cpu}; errors ${errorsText(o.errors)}`)
    }
    const p = r.pgbench
    if (p !== undefined) {
      const cpu = [...p.cpu].map(([part, s]) => `${part} ${seconds(s)}`).join(', ')
      parts.push(`pgbench: ${num(p.transactions)} lifecycles in ${p.seconds} s with ${p.clients} clients, ${num(p.failed)} failed, latency avg ${ms(p.latencyAvgMs)} ms; CPU s ${cpu}; rows left ${num(p.rowsLeft)}`)
    }
    const t = r.tenByTen
    if (t !== undefined) parts.push(`10×10: ${num(t.payloads)} payloads, ${num(t.messagesCompleted)}/${num(t.messages)} messages complete, first send → last payload ${t.seconds.toFixed(2)} s; errors ${errorsText(t.errors)}`)
    const l = r.latency
    if (l !== undefined) parts.push(`latency: ${num(l.sends)} sends at ${num(l.offeredPerSecond)}/s, percentiles over the ${num(l.measured)} payloads after the warm-up (p99 with it: ${ms(l.wholeRunP99Ms)} ms), scheduler lag max ${ms(l.schedulerLagMs)} ms; errors ${errorsText(l.errors)}`)
    const v = r.overload
    if (v !== undefined) {
      const refusals = [...v.refusals].map(([code, n]) => `${code}×${num(n)}`).join(' ') || 'none'
      parts.push(`overload: capacity ${num(v.capacityPerSecond)}/s → offered ${num(v.offeredPerSecond)}/s, ${num(v.sends)} sends (sent in time ${num(v.sentInTime)}, late ${num(v.sentLate)}; refused in time ${num(v.refusedInTime)}, late ${num(v.refusedLate)}: ${refusals}; never answered ${num(v.neverAnswered)}), ${num(v.completedTotal)} lifecycles completed in all, scheduler lag max ${ms(v.schedulerLagMs)} ms; CPU s while sending ${[...v.cpu].map(([part, s]) => `${part} ${seconds(s)}`).join(', ')}; errors ${errorsText(v.errors)}`)
    }
    const i = r.idle
    if (i !== undefined) {
      const failures = [...i.failures].map(([why, n]) => `${n}× ${why}`).join('; ')
      const cpu = [...i.cpu].map(([part, s]) => `${part} ${seconds(s)}`).join(', ')
      parts.push(`idle: ${num(i.connections)}/${num(i.wanted)} joined in ${i.seconds.toFixed(2)} s (join p50 ${ms(i.joinP50Ms)} ms, p99 ${ms(i.joinP99Ms)} ms)${failures === '' ? '' : ` failures: ${failures}`}; CPU s while joining ${cpu}; RSS as read ${num(i.beforeKiB / 1024, 1)} → ${num(i.afterKiB / 1024, 1)} MiB${i.othersPerConnectionKiB === undefined ? '' : `; other processes (vault) ${num(i.othersPerConnectionKiB, 1)} KiB/connection after GC`}`)
    }
    say(`${r.target}:`)
    for (const part of parts) say(`  ${part}`)
  }
}
