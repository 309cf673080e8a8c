import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join } from 'node:path'

/**
 * The image installs production dependencies per workspace
 * (`npm ci --omit=dev --workspace services/<name>`), so a package a service
 * imports without declaring it in its own "dependencies" works in the
 * monorepo and fails in the container. This finds such imports, following
 * workspace packages (@ephemeral-chat/*) transitively.
 */
export interface Workspace {
  name: string
  directory: string
  dependencies: Set<string>
}

interface PackageJson {
  name?: string
  dependencies?: Record<string, string>
  workspaces?: string[]
}

function readPackage(path: string): PackageJson {
  return JSON.parse(readFileSync(path, 'utf8')) as PackageJson
}

export function workspacesOf(repository: string): Map<string, Workspace> {
  const root = readPackage(join(repository, 'package.json'))
  const result = new Map<string, Workspace>()
  for (const relative of root.workspaces ?? []) {
    const directory = join(repository, relative)
    const manifest = join(directory, 'package.json')
    if (!existsSync(manifest)) continue
    const pkg = readPackage(manifest)
    if (pkg.name === undefined) continue
    result.set(pkg.name, { name: pkg.name, directory, dependencies: new Set(Object.keys(pkg.dependencies ?? {})) })
  }
  return result
}

const STATIC = /(?:^|[\n;])\s*(import|export)\s+(type\s+)?[\w*\s{},$]*?\s*from\s*['"]([^'"]+)['"]/g
const SIDE_EFFECT = /(?:^|[\n;])\s*import\s*['"]([^'"]+)['"]/g
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g

/** Bare package names a source file loads at run time (type-only imports vanish in the build). */
export function runtimeImports(source: string): Set<string> {
  const specifiers = new Set<string>()
  for (const match of source.matchAll(STATIC)) if (match[2] === undefined && match[3] !== undefined) specifiers.add(match[3])
  for (const match of source.matchAll(SIDE_EFFECT)) if (match[1] !== undefined) specifiers.add(match[1])
  for (const match of source.matchAll(DYNAMIC)) if (match[1] !== undefined) specifiers.add(match[1])
  const packages = new Set<string>()
  for (const specifier of specifiers) {
    if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:') || specifier.startsWith('#')) continue
    const parts = specifier.split('/')
    const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier)
    if (builtinModules.includes(name)) continue
    packages.add(name)
  }
  return packages
}

function sourceFiles(directory: string): string[] {
  if (!existsSync(directory)) return []
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts'))
    .map((entry) => join(entry.parentPath, entry.name))
}

/** "package imported by file but not declared" problems for a workspace and the workspaces it uses. */
export function undeclaredRuntimeImports(workspaces: Map<string, Workspace>, start: string): string[] {
  const problems: string[] = []
  const visited = new Set<string>()
  const visit = (name: string): void => {
    if (visited.has(name)) return
    visited.add(name)
    const workspace = workspaces.get(name)
    if (workspace === undefined) return
    for (const file of sourceFiles(join(workspace.directory, 'src'))) {
      for (const imported of runtimeImports(readFileSync(file, 'utf8'))) {
        if (imported === name) continue
        if (!workspace.dependencies.has(imported)) problems.push(`${name} imports ${imported} (${file}) without listing it in "dependencies"`)
        if (workspaces.has(imported)) visit(imported)
      }
    }
  }
  visit(start)
  return problems
}
