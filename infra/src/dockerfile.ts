/**
 * A Dockerfile reader and the image rules of this repository, checked on the
 * text (there is no container engine to build with here).
 */
export interface Instruction {
  keyword: string
  /** Everything after the keyword, continuation lines joined. */
  args: string
  line: number
}

export interface Stage {
  name: string | undefined
  base: string
  /** The stage it starts from when `base` names an earlier stage. */
  parent: Stage | undefined
  instructions: Instruction[]
}

export function parseDockerfile (text: string): Stage[] {
  const stages: Stage[] = []
  let pending = ''
  let startLine = 0
  const lines = text.split(/\r?\n/)
  lines.forEach((raw, index) => {
    const trimmed = raw.trim()
    if (pending === '' && (trimmed === '' || trimmed.startsWith('#'))) return
    if (pending !== '' && trimmed.startsWith('#')) return
    if (pending === '') startLine = index + 1
    if (trimmed.endsWith('\\')) {
      pending += trimmed.slice(0, -1) + ' '
      return
    }
    const full = (pending + trimmed).trim()
    pending = ''
    const match = /^(\S+)\s*(.*)$/s.exec(full)
    if (match === null) return
    const instruction: Instruction = { keyword: (match[1] ?? '').toUpperCase(), args: (match[2] ?? '').trim(), line: startLine }
    if (instruction.keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args)
      if (from === null) throw new Error(`line ${startLine}: cannot read FROM ${instruction.args}`)
      const base = from[1] ?? ''
      const parent = stages.find((stage) => stage.name === base)
      stages.push({ name: from[2], base, parent, instructions: [] })
      return
    }
    const current = stages.at(-1)
    if (current === undefined) {
      if (instruction.keyword === 'ARG') return
      throw new Error(`line ${startLine}: ${instruction.keyword} before any FROM`)
    }
    current.instructions.push(instruction)
  })
  return stages
}

/** The instructions that apply to a stage, its ancestors' first. */
export function lineage (stage: Stage): Instruction[] {
  return [...(stage.parent === undefined ? [] : lineage(stage.parent)), ...stage.instructions]
}

export function externalBase (stage: Stage): string {
  return stage.parent === undefined ? stage.base : externalBase(stage.parent)
}

/** Flags and operands of a COPY instruction. */
export function parseCopy (args: string): { from: string | undefined, sources: string[], destination: string } {
  const words = args.split(/\s+/).filter((word) => word !== '')
  const flags = words.filter((word) => word.startsWith('--'))
  const operands = words.filter((word) => !word.startsWith('--'))
  const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length)
  return { from, sources: operands.slice(0, -1), destination: operands.at(-1) ?? '' }
}

/** An exec-form (JSON array) CMD/ENTRYPOINT, or undefined for the shell form. */
export function execForm (args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined
  try {
    const value: unknown = JSON.parse(args)
    return Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : undefined
  } catch {
    return undefined
  }
}

export interface ImageRuleOptions {
  /** Stages that become images (docker build --target). */
  targets: readonly string[]
  /** Required form of the external base image. */
  base: RegExp
}

/** Node 24 LTS, exact release, optional variant, optional digest. */
export const NODE_24_EXACT = /^node:24\.\d+\.\d+(-[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?$/

/** Every rule the image build must meet; an empty list means all are met. */
export function imageRuleProblems (text: string, options: ImageRuleOptions): string[] {
  const problems: string[] = []
  let stages: Stage[]
  try {
    stages = parseDockerfile(text)
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)]
  }
  if (stages.length < 2) problems.push('not a multi-stage build')
  for (const stage of stages) {
    if (stage.parent !== undefined) continue
    if (!options.base.test(stage.base)) problems.push(`base image ${stage.base} is not pinned to an exact Node 24 release`)
  }
  const all = stages.flatMap((stage) => stage.instructions)
  const runs = all.filter((instruction) => instruction.keyword === 'RUN').map((instruction) => instruction.args)
  if (!runs.some((run) => /\bnpm ci\b/.test(run) && !/--omit=dev/.test(run))) problems.push('no build stage runs npm ci with dev dependencies')
  if (!runs.some((run) => /\bnpx tsc -b\b/.test(run))) problems.push('no stage runs npx tsc -b')
  for (const target of options.targets) {
    const stage = stages.find((candidate) => candidate.name === target)
    if (stage === undefined) {
      problems.push(`no stage named ${target}`)
      continue
    }
    problems.push(...targetProblems(stage, stages).map((problem) => `${target}: ${problem}`))
  }
  return problems
}

function targetProblems (stage: Stage, stages: Stage[]): string[] {
  const problems: string[] = []
  const instructions = lineage(stage)
  const user = instructions.filter((instruction) => instruction.keyword === 'USER').at(-1)?.args
  const uid = user?.split(':')[0]
  if (uid === undefined) problems.push('no USER: runs as root')
  else if (!/^\d+$/.test(uid)) problems.push(`USER ${user} is not a numeric uid (runAsNonRoot cannot verify a name)`)
  else if (Number(uid) === 0) problems.push('USER is root')
  const cmd = instructions.filter((instruction) => instruction.keyword === 'CMD').at(-1)
  const command = cmd === undefined ? undefined : execForm(cmd.args)
  if (command === undefined) problems.push('CMD is not in exec form')
  else if (command[0] !== 'node') problems.push(`CMD starts ${command[0] ?? 'nothing'}, not node`)
  if (instructions.some((instruction) => instruction.keyword === 'ENTRYPOINT')) problems.push('has an ENTRYPOINT (node must be PID 1 via CMD)')
  const sources = instructions
    .filter((instruction) => instruction.keyword === 'COPY')
    .map((instruction) => parseCopy(instruction.args).from)
    .filter((from): from is string => from !== undefined)
  if (sources.length === 0) problems.push('copies nothing from a build stage')
  for (const from of new Set(sources)) {
    const source = stages.find((candidate) => candidate.name === from)
    if (source === undefined) {
      problems.push(`copies from ${from}, which is not a stage of this file`)
      continue
    }
    // What a stage's node_modules hold is decided by its last install step
    // (infra/docker/runtime-tree.sh installs production dependencies only; its own test shows it).
    const lastInstall = lineage(source)
      .filter((instruction) => instruction.keyword === 'RUN' && /\bnpm (ci|install|prune)\b|\bruntime-tree\.sh\b/.test(instruction.args))
      .at(-1)
    if (lastInstall !== undefined && !/--omit=dev|\bruntime-tree\.sh\b/.test(lastInstall.args)) {
      problems.push(`copies from ${from}, whose node_modules include dev dependencies (not production dependencies only)`)
    }
  }
  return problems
}
