/**
 * .dockerignore matching as BuildKit does it (moby/patternmatcher): patterns in
 * order, the last one that matches a path or one of its parent directories
 * decides; `!` re-includes; `*` and `?` stay within one path segment, `**`
 * spans any number of them.
 */
interface Pattern {
  regex: RegExp
  exclusion: boolean
}

export function parseDockerignore(text: string): Pattern[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const exclusion = line.startsWith('!')
      const body = (exclusion ? line.slice(1) : line).trim().replace(/^\/+/, '').replace(/\/+$/, '')
      return { regex: compile(body), exclusion }
    })
}

function compile(pattern: string): RegExp {
  let source = ''
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index] ?? ''
    if (char === '*' && pattern[index + 1] === '*') {
      index++
      if (pattern[index + 1] === '/') {
        index++
        source += '(?:.*/)?'
      } else {
        source += '.*'
      }
    } else if (char === '*') source += '[^/]*'
    else if (char === '?') source += '[^/]'
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${source}$`)
}

/** Is this path (relative to the build context, with / separators) left out of the context? */
export function isIgnored(patterns: Pattern[], path: string): boolean {
  const segments = path.split('/').filter((segment) => segment !== '' && segment !== '.')
  const candidates = segments.map((_, index) => segments.slice(0, index + 1).join('/'))
  let ignored = false
  for (const pattern of patterns) {
    if (candidates.some((candidate) => pattern.regex.test(candidate))) ignored = !pattern.exclusion
  }
  return ignored
}
