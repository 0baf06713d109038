// The plain parts of multi-file actions: where tests go, how calls are found, how an answer's edits are checked.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { excerpts, findCalls } from '../../server/src/actions/callSites.js';
import { planTests } from '../../server/src/actions/testLayout.js';
import { SymbolHost } from '../../server/src/context/symbolHost.js';
import { MultiFileActions, type FileText } from '../../server/src/pipeline/multiFile.js';
import type { LanguageName } from '../../server/src/syntax/languages.js';
import { silentLogger } from '../../server/src/util/logger.js';
import { pool } from './fixtures.js';

const plan = (source: string, files: Record<string, string>, unit = 'run', lang: Parameters<typeof planTests>[0]['lang'] = 'typescript') =>
  planTests({ source, lang, unit, files: Object.keys(files), read: (rel) => files[rel] });

describe('planTests', () => {
  it('tests beside their sources (a.test.ts next to a.ts): the new one goes beside too, named after the module', () => {
    const p = plan('src/orders/cart.ts', { 'src/orders/cart.ts': '', 'src/users/user.ts': '', 'src/users/user.test.ts': "import { it } from 'vitest';\nimport { x } from './user.js';\n" });
    expect(p.path).toBe('src/orders/cart.test.ts');
    expect(p.framework).toBe('vitest');
    expect(p.importHint).toBe("import { run } from './cart.js';");
    expect(p.example?.path).toBe('src/users/user.test.ts');
  });

  it('a test/ tree mirroring src/ wins by votes; .spec naming and extension-less imports are copied', () => {
    const files = { 'src/a/b/c.ts': '', 'src/x.ts': '', 'src/y/z.ts': '', 'test/x.spec.ts': "import { describe } from '@jest/globals';\nimport { x } from '../src/x';\n", 'test/y/z.spec.ts': '' };
    const p = plan('src/a/b/c.ts', files);
    expect(p.path).toBe('test/a/b/c.spec.ts');
    expect(p.framework).toBe('jest');
    expect(p.importHint).toBe("import { run } from '../../../src/a/b/c';");
    expect(p.why).toContain('mirror');
  });

  it('__tests__ folders beside the sources', () => {
    const p = plan('lib/util/str.js', { 'lib/util/str.js': '', 'lib/num.js': '', 'lib/__tests__/num.test.js': "const assert = require('node:assert');\nconst { test } = require('node:test');\n" }, 'pad', 'javascript');
    expect(p.path).toBe('lib/util/__tests__/str.test.js');
    expect(p.framework).toBe('node:test (node:assert)');
  });

  it('a taken name gets the unit in it; files on disk the index skipped count as taken', () => {
    const files = { 'src/a.ts': '', 'src/a.test.ts': "import 'vitest';\n" };
    expect(plan('src/a.ts', files, 'parse').path).toBe('src/a.parse.test.ts');
    const p = planTests({ source: 'src/a.ts', lang: 'typescript', unit: 'parse', files: Object.keys(files), read: () => undefined, exists: (rel) => rel === 'src/a.parse.test.ts' });
    expect(p.path).toBe('src/a.parse2.test.ts');
  });

  it('Python: unittest detected, tests/ folder, module path without src/', () => {
    const files = { 'src/shop/cart.py': '', 'src/shop/user.py': '', 'tests/test_user.py': 'import unittest\n\nclass T(unittest.TestCase):\n    pass\n' };
    const p = plan('src/shop/cart.py', files, 'total', 'python');
    expect(p.path).toBe('tests/test_cart.py');
    expect(p.framework).toBe('unittest');
    expect(p.importHint).toBe('from shop.cart import total');
  });

  it('Go: always in the package directory, same package', () => {
    const p = plan('internal/orders/cart.go', { 'internal/orders/cart.go': 'package orders\n\nfunc Total() int { return 0 }\n', 'pkg/x/x_test.go': 'package x\nimport "github.com/stretchr/testify/assert"\n' }, 'Total', 'go');
    expect(p.path).toBe('internal/orders/cart_test.go');
    expect(p.importHint).toBe('package orders (the same package: no import needed)');
  });

  it('Java without tests: src/main/java mirrors to src/test/java, JUnit 5', () => {
    const p = plan('src/main/java/com/shop/Cart.java', { 'src/main/java/com/shop/Cart.java': 'package com.shop;\n\npublic class Cart {}\n' }, 'Cart', 'java');
    expect(p.path).toBe('src/test/java/com/shop/CartTest.java');
    expect(p.framework).toBe('JUnit 5 (org.junit.jupiter)');
    expect(p.importHint).toBe('package com.shop; (the same package as the class under test)');
    expect(p.example).toBeUndefined();
  });
});

describe('findCalls', () => {
  const TEXT = ['export function area(r) {', '  return r;', '}', '// area(2) in a comment', 'const a = area(1);', 'const b = geo.area (2) + subarea(3);', 'const c = area<number>(4);', 'const d = areas(5);', 'def area(x):', ''].join('\n');

  it('finds plain, qualified and generic calls, not the definition, comments or longer names', () => {
    expect(findCalls(TEXT, 'area', { from: 0, to: 2 }).map((s) => s.line)).toEqual([4, 5, 6]);
  });

  it('excerpts merge overlapping windows and stop at the last real line', () => {
    const ex = excerpts(TEXT, [{ line: 4 }, { line: 6 }]);
    expect(ex).toEqual([{ start: 1, text: TEXT.split('\n').slice(1, 9).join('\n') }]);
  });
});

describe('applyAnswer: the syntax check of a multi-file edit', () => {
  const BUILT = pathToFileURL(join(import.meta.dirname, '../../server/out/context/symbolWorker.js'));
  const MISSING = pathToFileURL(join(tmpdir(), 'no-such-tandem-worker.mjs'));
  /** The fake model's answer in bench/fuzz.js: a block on the file's first line, a comment added (or a bracket opened). */
  const answer = (line: string, replace = `${line} // checked`) => ['<<<<<<< SEARCH', line, '=======', replace, '>>>>>>> REPLACE'].join('\n');
  const file = (text: string): FileText => ({ uri: 'file:///w/a.ts', abs: '/w/a.ts', rel: 'a.ts', text, version: 1, lang: 'typescript' });

  /** Actions whose checks go to `host`'s worker, counting the parses made on this thread and the checks sent. */
  function actions(host: SymbolHost) {
    const counts = { parsesHere: 0, checks: 0 };
    const multi = new MultiFileActions({
      open: () => undefined,
      index: () => undefined,
      relativePath: (u) => u,
      rootOf: () => '/w',
      paths: { outsideWorkspace: () => false, resolvesInside: () => true },
      parse: async (lang: LanguageName, text: string) => (counts.parsesHere++, (await pool.parse(lang, text, { urgent: true })).tree),
      checkOffThread: (lang, text, edits) => (counts.checks++, host.check(lang, text, edits)),
      chat: async () => ({ kind: 'failed', reason: 'no model here' }),
      debug: () => undefined,
    });
    return { multi, counts };
  }

  it('a 400 kB file of nested templates (the fuzzer\'s 2-3 s code actions): no parse on this thread, one check in the worker', async () => {
    // Two whole parses of it here used to take up to a second of the event loop's time per answer.
    const text = `export const head = 1;\n${'const s = `a ${ `b ${ `c ${x}` }` } ${'.repeat(11_000)}\n`;
    const host = new SymbolHost(silentLogger(), BUILT);
    try {
      const { multi, counts } = actions(host);
      const r = await multi.applyAnswer(answer('export const head = 1;'), [file(text)]);
      expect(r.ok).toBe(true);
      expect(counts).toEqual({ parsesHere: 0, checks: 1 });
    } finally {
      await host.dispose();
    }
  });

  it('in the worker, and here when it cannot start: the same verdicts', async () => {
    const text = ['export function area(r: number): number {', '  return 3.14 * r * r;', '}', ''].join('\n');
    const line = '  return 3.14 * r * r;';
    for (const [script, here] of [[BUILT, 0], [MISSING, 2]] as const) {
      const host = new SymbolHost(silentLogger(), script);
      try {
        const { multi, counts } = actions(host);
        const good = await multi.applyAnswer(answer(line), [file(text)]);
        expect(good.ok && good.changes.map((c) => c.addedErrors)).toEqual([0]);
        const bad = await multi.applyAnswer(answer(line, '  return (3.14 * r * r;'), [file(text)]);
        expect(bad.ok && bad.changes[0]!.addedErrors).toBeGreaterThan(0);
        // Here: the edited file, then the file as it was, for each answer.
        expect(counts).toEqual({ parsesHere: 2 * here, checks: 2 });
      } finally {
        await host.dispose();
      }
    }
  });
});
