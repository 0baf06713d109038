// The plain parts of multi-file actions: where tests go and how calls are found.
import { describe, expect, it } from 'vitest';
import { excerpts, findCalls } from '../../server/src/actions/callSites.js';
import { planTests } from '../../server/src/actions/testLayout.js';

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
