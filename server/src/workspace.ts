// Workspace roots and the paths of files relative to them (the form privacy globs match).
import { basename, dirname, isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The last paths found (a request asks for its document's several times, each a URL parse). */
const PATHS = new Map<string, string | undefined>();
const PATHS_MAX = 256;

export function uriToPath(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  if (PATHS.has(uri)) return PATHS.get(uri);
  let path: string | undefined;
  try {
    path = fileURLToPath(uri);
  } catch {
    path = undefined;
  }
  if (PATHS.size >= PATHS_MAX) PATHS.clear();
  PATHS.set(uri, path);
  return path;
}

export class Workspace {
  constructor(public roots: string[] = []) {}

  /** Name of the workspace folder holding the file (the repository name in repository-level prompts). */
  rootName(uri: string): string {
    return basename(this.rootOf(uri) ?? dirname(uriToPath(uri) ?? uri));
  }

  /** The innermost workspace folder holding the file. */
  rootOf(uri: string): string | undefined {
    const path = uriToPath(uri) ?? uri;
    let best: string | undefined;
    for (const root of this.roots) {
      const rel = relative(root, path);
      if (rel && !rel.startsWith('..') && !isAbsolute(rel) && (best === undefined || root.length > best.length)) best = root;
    }
    return best;
  }

  /** Path relative to the innermost root holding the file, with `/` separators; else the absolute path or URI. */
  relativePath(uri: string): string {
    const path = uriToPath(uri) ?? uri;
    let best: string | undefined;
    for (const root of this.roots) {
      const rel = relative(root, path);
      if (rel && !rel.startsWith('..') && !isAbsolute(rel) && (best === undefined || rel.length < best.length)) best = rel;
    }
    return (best ?? path).split(sep).join('/');
  }
}
