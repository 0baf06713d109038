// .gitignore rules: one matcher per directory's file, applied from the root down, last match wins.
import picomatch from 'picomatch';

interface Rule {
  negate: boolean;
  dirOnly: boolean;
  match: (rel: string) => boolean;
}

/** The rules of one .gitignore file, matching paths relative to the directory that holds it. */
export class IgnoreFile {
  private readonly rules: Rule[] = [];

  constructor(content: string) {
    for (const raw of content.split(/\r?\n/)) {
      let line = raw.replace(/(?<!\\)\s+$/, '');
      if (!line || line.startsWith('#')) continue;
      let negate = false;
      if (line.startsWith('!')) {
        negate = true;
        line = line.slice(1);
      }
      line = line.replace(/^\\([#!])/, '$1');
      let dirOnly = false;
      if (line.endsWith('/')) {
        dirOnly = true;
        line = line.slice(0, -1);
      }
      if (!line) continue;
      // A slash at the start or in the middle anchors the pattern to this directory;
      // otherwise it matches a name at any depth below it.
      const anchored = line.includes('/');
      const glob = anchored ? line.replace(/^\//, '') : `**/${line}`;
      try {
        const m = picomatch(glob, { dot: true });
        // A pattern matching a directory also covers everything inside it.
        this.rules.push({ negate, dirOnly, match: m });
      } catch {
        // An invalid pattern is skipped, as git does.
      }
    }
  }

  /** true: ignored, false: re-included by a `!` rule, undefined: no rule speaks. */
  test(rel: string, isDir: boolean): boolean | undefined {
    let verdict: boolean | undefined;
    for (const r of this.rules) {
      if (r.dirOnly && !isDir) continue;
      if (r.match(rel)) verdict = !r.negate;
    }
    return verdict;
  }
}

/** The .gitignore files from the workspace root down to one directory, in order. */
export class IgnoreStack {
  constructor(private readonly layers: { dir: string; file: IgnoreFile }[] = []) {}

  with(dir: string, file: IgnoreFile | undefined): IgnoreStack {
    return file ? new IgnoreStack([...this.layers, { dir, file }]) : this;
  }

  /** `abs` relative to each layer's directory; the deepest file that has a rule decides. */
  ignored(abs: string, isDir: boolean): boolean {
    let verdict = false;
    for (const { dir, file } of this.layers) {
      if (!abs.startsWith(dir + '/')) continue;
      const v = file.test(abs.slice(dir.length + 1), isDir);
      if (v !== undefined) verdict = v;
    }
    return verdict;
  }
}
