#!/usr/bin/env node
// Entry point of the `tandem-lsp` command; the compiled CLI lives in ../out (built by `npm run build`).
import { main } from '../out/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`tandem-lsp: internal error: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 70;
  },
);
