// Where a project keeps its tests and which framework it uses, read from the files it already has.
import { posix } from 'node:path';
import { languageOf, type LanguageName } from '../syntax/languages.js';

export interface TestPlan {
  /** Workspace-relative path of the new test file (never an existing one). */
  path: string;
  framework: string;
  /** How the new file reaches the code under test ("import { f } from '../src/a.js'", "package orders"). */
  importHint: string;
  /** The existing test file closest to the source, to copy its style; absent in a project without tests. */
  example?: { path: string; text: string };
  /** Why this place: "next to src/a.test.ts", "tests/ mirrors src/", "no tests yet: the language's convention". */
  why: string;
}

export interface LayoutInput {
  /** Workspace-relative path of the file under test, `/`-separated. */
  source: string;
  lang: LanguageName;
  /** The function or class the tests are for (names a second file when the obvious name is taken). */
  unit: string;
  /** Workspace-relative paths of the project's files (the index's), `/`-separated. */
  files: readonly string[];
  /** Text of a workspace file, for the framework and the example; undefined when unreadable. */
  read: (rel: string) => string | undefined;
  /** Whether a path is taken on disk (files the index skipped count too). */
  exists?: (rel: string) => boolean;
}

type Family = 'js' | 'python' | 'go' | 'rust' | 'java';

const FAMILY: Record<LanguageName, Family> = { typescript: 'js', tsx: 'js', javascript: 'js', python: 'python', go: 'go', rust: 'rust', java: 'java' };

const JS_EXT = /\.(?:[cm]?[jt]sx?)$/;
const TEST_NAME: Record<Family, RegExp> = {
  js: /(?:\.(?:test|spec)\.[cm]?[jt]sx?$)|(?:(?:^|\/)__tests__\/.+\.[cm]?[jt]sx?$)/,
  python: /(?:^|\/)(?:test_[^/]+|[^/]+_test)\.py$/,
  go: /_test\.go$/,
  rust: /(?:^|\/)tests\/[^/]+\.rs$/,
  java: /(?:^|\/)[^/]*(?:Test|Tests|IT)\.java$/,
};

function isTest(family: Family, rel: string): boolean {
  return TEST_NAME[family].test(rel);
}

/** The stem a test file is named after: `a.test.ts` → `a`, `test_a.py` → `a`, `AServiceTest.java` → `AService`. */
function subjectStem(family: Family, rel: string): string {
  const base = posix.basename(rel);
  switch (family) {
    case 'js':
      return base.replace(/\.(?:test|spec)(?=\.[cm]?[jt]sx?$)/, '').replace(JS_EXT, '');
    case 'python':
      return base.replace(/^test_/, '').replace(/_test\.py$|\.py$/, '');
    case 'go':
      return base.replace(/_test\.go$/, '');
    case 'rust':
      return base.replace(/\.rs$/, '');
    case 'java':
      return base.replace(/(?:Test|Tests|IT)\.java$/, '');
  }
}

function stemOf(rel: string): string {
  return posix.basename(rel).replace(/\.[^.]+$/, '');
}

/** A directory rule read from one test/source pair: the tests of `from/x/y` live in `to/x/y`. */
interface Rule {
  from: string;
  to: string;
  /** `__tests__` next to the source, or the file itself beside it (from = to = ''). */
  sub?: string;
}

function ruleFor(testDir: string, srcDir: string): Rule | undefined {
  if (testDir === srcDir) return { from: '', to: '' };
  if (testDir === posix.join(srcDir, '__tests__')) return { from: '', to: '', sub: '__tests__' };
  // Strip the longest common tail of directory names: what is left are the two roots.
  const t = testDir === '.' ? [] : testDir.split('/');
  const s = srcDir === '.' ? [] : srcDir.split('/');
  while (t.length > 0 && s.length > 0 && t[t.length - 1] === s[s.length - 1]) {
    t.pop();
    s.pop();
  }
  return { from: s.join('/'), to: t.join('/') };
}

function applyRule(rule: Rule, srcDir: string): string | undefined {
  const dir = srcDir === '.' ? '' : srcDir;
  if (rule.sub) return posix.join(dir, rule.sub);
  if (rule.from === '' && rule.to === '') return dir;
  if (rule.from === '') return posix.join(rule.to, dir);
  if (dir === rule.from) return rule.to;
  if (dir.startsWith(`${rule.from}/`)) return posix.join(rule.to, dir.slice(rule.from.length + 1));
  return undefined;
}

function frameworkOf(family: Family, example: string | undefined, read: LayoutInput['read']): string {
  const t = example ?? '';
  switch (family) {
    case 'js': {
      if (/from ['"]vitest['"]/.test(t)) return 'vitest';
      if (/from ['"]node:test['"]|require\(['"]node:test['"]\)/.test(t)) return 'node:test (node:assert)';
      if (/from ['"]mocha['"]|from ['"]chai['"]/.test(t)) return 'mocha with chai';
      if (/@jest\/globals|\bjest\./.test(t)) return 'jest';
      const pkg = read('package.json');
      for (const name of ['vitest', 'jest', 'mocha', 'ava']) if (pkg && new RegExp(`"${name}"\\s*:`).test(pkg)) return name;
      return t ? 'the framework the example uses' : 'vitest';
    }
    case 'python':
      if (/^\s*import unittest|^\s*from unittest/m.test(t) && !/^\s*import pytest/m.test(t)) return 'unittest';
      return 'pytest';
    case 'go':
      return /github\.com\/stretchr\/testify/.test(t) ? 'Go\'s testing package with testify' : 'Go\'s testing package';
    case 'rust':
      return 'Rust\'s built-in test harness (#[test])';
    case 'java':
      if (/org\.junit\.jupiter/.test(t)) return 'JUnit 5 (org.junit.jupiter)';
      if (/org\.junit\.Test|org\.junit\.Assert/.test(t)) return 'JUnit 4';
      if (/org\.testng/.test(t)) return 'TestNG';
      return 'JUnit 5 (org.junit.jupiter)';
  }
}

/** The new file's name in `dir`, in the project's naming style, not taken yet. */
function fileName(family: Family, source: string, unit: string, example: string | undefined, taken: (rel: string) => boolean, dir: string): string {
  const stem = stemOf(source);
  const ext = posix.extname(source);
  const safeUnit = unit.replace(/[^\w]/g, '') || 'unit';
  // The first name is the obvious one; the others carry the unit, then a number.
  const names = (n: string): string[] => {
    switch (family) {
      case 'js': {
        const marker = example && /\.spec\.[cm]?[jt]sx?$/.test(example) ? 'spec' : 'test';
        return [`${stem}.${marker}${ext}`, `${stem}.${safeUnit}${n}.${marker}${ext}`];
      }
      case 'python': {
        const suffix = !!example && /_test\.py$/.test(example) && !/(?:^|\/)test_/.test(example);
        return suffix ? [`${stem}_test.py`, `${stem}_${safeUnit}${n}_test.py`] : [`test_${stem}.py`, `test_${stem}_${safeUnit}${n}.py`];
      }
      case 'go':
        return [`${stem}_test.go`, `${stem}_${safeUnit.toLowerCase()}${n}_test.go`];
      case 'rust':
        return [`${stem}.rs`, `${stem}_${safeUnit}${n}.rs`];
      case 'java':
        return [`${stem}Test.java`, `${stem}${safeUnit[0]!.toUpperCase()}${safeUnit.slice(1)}${n}Test.java`];
    }
  };
  for (const name of names('')) if (!taken(posix.join(dir, name))) return posix.join(dir, name);
  for (let i = 2; ; i++) {
    const name = names(String(i))[1]!;
    if (!taken(posix.join(dir, name))) return posix.join(dir, name);
  }
}

/** Where the language keeps tests when the project has none yet. */
function conventionDir(family: Family, source: string): string {
  const dir = posix.dirname(source) === '.' ? '' : posix.dirname(source);
  switch (family) {
    case 'python':
      return 'tests';
    case 'rust':
      return 'tests';
    case 'java':
      return dir.replace(/(^|\/)src\/main(?=\/|$)/, '$1src/test');
    default:
      return dir;
  }
}

function importHint(family: Family, testPath: string, source: string, unit: string, example: string | undefined, read: LayoutInput['read']): string {
  const src = read(source) ?? '';
  switch (family) {
    case 'js': {
      let rel = posix.relative(posix.dirname(testPath), source);
      if (!rel.startsWith('.')) rel = `./${rel}`;
      // ESM projects import with the emitted extension ('./a.js'); others leave it out.
      const withJs = example ? /from\s+['"]\.{1,2}\/[^'"]+\.js['"]/.test(example) : false;
      const spec = withJs ? rel.replace(/\.[cm]?tsx?$/, '.js') : rel.replace(JS_EXT, '');
      return `import { ${unit} } from '${spec}';`;
    }
    case 'python': {
      const mod = source.replace(/^src\//, '').replace(/\.py$/, '').replace(/\/__init__$/, '').split('/').join('.');
      return `from ${mod} import ${unit}`;
    }
    case 'go': {
      const pkg = /^\s*package\s+(\w+)/m.exec(src)?.[1] ?? 'main';
      return `package ${pkg} (the same package: no import needed)`;
    }
    case 'rust':
      return `use <crate name>::...::${unit}; (integration tests see the crate's public items only)`;
    case 'java': {
      const pkg = /^\s*package\s+([\w.]+)\s*;/m.exec(src)?.[1];
      return pkg ? `package ${pkg}; (the same package as the class under test)` : 'the default package';
    }
  }
}

/**
 * Finds where tests of `source` belong: from pairs of existing test files and the sources they
 * test, the most common directory rule wins; a project without tests gets the language's own
 * convention. The example is the test file nearest to the source.
 */
export function planTests(input: LayoutInput): TestPlan {
  const family = FAMILY[input.lang];
  const same = (rel: string) => {
    const l = langFamilyOf(rel);
    return l !== undefined && FAMILY[l] === family;
  };
  const tests = input.files.filter((f) => same(f) && isTest(family, f));
  const sources = new Map<string, string[]>();
  for (const f of input.files) {
    if (!same(f) || isTest(family, f)) continue;
    const k = stemOf(f);
    const list = sources.get(k) ?? [];
    list.push(f);
    sources.set(k, list);
  }
  // Vote on directory rules: each test file with a source of the same stem says where tests go.
  const votes = new Map<string, { rule: Rule; n: number }>();
  for (const t of tests) {
    const candidates = sources.get(subjectStem(family, t)) ?? [];
    for (const s of candidates) {
      const rule = ruleFor(posix.dirname(t), posix.dirname(s));
      if (!rule) continue;
      const key = `${rule.from}\0${rule.to}\0${rule.sub ?? ''}`;
      const v = votes.get(key) ?? { rule, n: 0 };
      v.n++;
      votes.set(key, v);
    }
  }
  const srcDir = posix.dirname(input.source);
  let dir: string | undefined;
  let why: string;
  const ranked = [...votes.values()].sort((a, b) => b.n - a.n);
  const rule = ranked.find((v) => applyRule(v.rule, srcDir) !== undefined);
  if (family === 'go') {
    dir = srcDir === '.' ? '' : srcDir; // Go tests must sit in the package's directory
    why = 'Go tests live in the package\'s directory';
  } else if (rule) {
    dir = applyRule(rule.rule, srcDir)!;
    why = rule.rule.sub ? `the project keeps tests in ${rule.rule.sub}/ beside their sources` : rule.rule.from === rule.rule.to ? 'the project keeps tests beside their sources' : `the project's tests in ${rule.rule.to || '.'}/ mirror ${rule.rule.from || '.'}/`;
  } else if (tests.length > 0) {
    // Tests exist but none pairs with a source by name: the directory holding most of them.
    const byDir = new Map<string, number>();
    for (const t of tests) byDir.set(posix.dirname(t), (byDir.get(posix.dirname(t)) ?? 0) + 1);
    const top = [...byDir.entries()].sort((a, b) => b[1] - a[1] || a[0].length - b[0].length)[0]![0];
    dir = top === '.' ? '' : top;
    why = `most of the project's tests are in ${top}/`;
  } else {
    dir = conventionDir(family, input.source);
    why = 'the project has no tests yet: the language\'s convention';
  }
  // The example: a test in the target directory, else the one whose path shares most with the source.
  const score = (t: string) => (posix.dirname(t) === dir ? 1000 : 0) + commonPrefix(t, input.source);
  const exampleRel = [...tests].sort((a, b) => score(b) - score(a) || a.localeCompare(b))[0];
  const example = exampleRel ? input.read(exampleRel) : undefined;
  const taken = new Set(input.files);
  const path = fileName(family, input.source, input.unit, exampleRel, (rel) => taken.has(rel) || (input.exists?.(rel) ?? false), dir);
  return {
    path,
    framework: frameworkOf(family, example, input.read),
    importHint: importHint(family, path, input.source, input.unit, example, input.read),
    ...(example !== undefined && exampleRel ? { example: { path: exampleRel, text: example } } : {}),
    why,
  };
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function langFamilyOf(rel: string): LanguageName | undefined {
  return languageOf('', rel)?.name;
}
