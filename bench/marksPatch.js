// @ts-check
// Time marks for bench/abInvoked.js (AB_MARKS_DIR): patches a checkout's sources so that its server,
// started with TANDEM_MARKS=FILE, appends per invoked inline request "pid before after": the ms
// from the request's frame to the backend request's end(), and from the response's headers to the
// reply's frame. For measurement copies only (never commit a patched tree); build after patching.
//   node bench/marksPatch.js CHECKOUT && (cd CHECKOUT && npx tsc -p tsconfig.json)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2];
if (!root) throw new Error('usage: node bench/marksPatch.js CHECKOUT');
/** @type {[string, string, string][]} */
const PATCHES = [
  [
    "server/src/server/frameReader.ts",
    "      try {\n        this.callback?.(msg);",
    "      try {\n        { const m = msg as any; if (process.env.TANDEM_MARKS && m.method === 'textDocument/inlineCompletion' && m.params?.context?.triggerKind === 1) (globalThis as any).__marks = { id: m.id, t0: performance.now() }; }\n        this.callback?.(msg);"
  ],
  [
    "server/src/models/http.ts",
    "      if (body === undefined || body === null) req.end();\n      else req.end(body);\n    });",
    "      if (body === undefined || body === null) req.end();\n      else req.end(body);\n      { const mk = (globalThis as any).__marks; if (mk && mk.t1 === undefined) mk.t1 = performance.now(); }\n    });"
  ],
  [
    "server/src/models/http.ts",
    "      const onResponse = (res: http.IncomingMessage) => {",
    "      const onResponse = (res: http.IncomingMessage) => {\n        { const mk = (globalThis as any).__marks; if (mk && mk.t1 !== undefined && mk.t2 === undefined) mk.t2 = performance.now(); }"
  ],
  [
    "server/src/server/frameWriter.ts",
    "  write(msg: Message): Promise<void> {\n    let frame: Buffer;",
    "  write(msg: Message): Promise<void> {\n    { const mk = (globalThis as any).__marks; const m = msg as any; if (mk && m.id === mk.id && 'result' in m) { (globalThis as any).__marks = undefined; if (mk.t2 !== undefined) { const t3 = performance.now(); __appendMarks(process.env.TANDEM_MARKS!, `${process.pid} ${(mk.t1 - mk.t0).toFixed(3)} ${(t3 - mk.t2).toFixed(3)}\\n`); } } }\n    let frame: Buffer;"
  ],
  [
    "server/src/server/frameWriter.ts",
    "import { AbstractMessageWriter",
    "import { appendFileSync as __appendMarks } from 'node:fs';\nimport { AbstractMessageWriter"
  ]
];
for (const [file, before, after] of PATCHES) {
  const path = join(root, file);
  const text = readFileSync(path, 'utf8');
  if (!text.includes(before)) throw new Error(`${path}: the text to patch is not there (the source changed): ${before.slice(0, 60)}`);
  writeFileSync(path, text.replace(before, after));
}
