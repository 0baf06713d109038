// @ts-check
// Sums self time per function over V8 .cpuprofile files (node --cpu-prof), heaviest first:
//   node bench/cpuprofile.js DIR_OR_FILES... [--top 40] [--by file]
// `--by file` sums per source file instead. Times are sample counts times their intervals, in ms;
// "(idle)" is the event loop waiting, "(program)" native work outside JS, "(garbage collector)" GC.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const args = process.argv.slice(2);
const top = Number(args[args.indexOf('--top') + 1]) || 40;
const byFile = args.includes('--by') && args[args.indexOf('--by') + 1] === 'file';
const paths = args.filter((a, i) => !a.startsWith('--') && !['--top', '--by'].includes(args[i - 1] ?? ''));
const files = paths.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(p, f)) : [p]));
if (files.length === 0) {
  process.stderr.write('usage: node bench/cpuprofile.js DIR_OR_FILES... [--top N] [--by file]\n');
  process.exit(2);
}

/** @type {Map<string, number>} */
const self = new Map();
let total = 0;
let idle = 0;
for (const file of files) {
  /** @type {{nodes: {id: number, callFrame: {functionName: string, url: string, lineNumber: number}}[], samples: number[], timeDeltas: number[]}} */
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const label = new Map(
    prof.nodes.map((n) => {
      const { functionName, url, lineNumber } = n.callFrame;
      const where = url ? relative(process.cwd(), url.replace(/^file:\/\//, '')) : '';
      return [n.id, byFile ? where || functionName || '(anonymous)' : `${functionName || '(anonymous)'}${where ? ` ${where}:${lineNumber + 1}` : ''}`];
    }),
  );
  // The delta before sample i is the time sample i stands for.
  prof.samples.forEach((id, i) => {
    const ms = (prof.timeDeltas[i] ?? 0) / 1000;
    const name = label.get(id) ?? '?';
    self.set(name, (self.get(name) ?? 0) + ms);
    total += ms;
    if (name.startsWith('(idle)')) idle += ms;
  });
}
const busy = total - idle;
process.stdout.write(`${files.length} profile(s): ${total.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms not idle\n`);
for (const [name, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`${ms.toFixed(1).padStart(9)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)} %  ${name}\n`);
}
