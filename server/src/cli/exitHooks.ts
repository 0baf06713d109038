// How the process ends: requests still in flight go to the audit log first, whatever the way out.
import { constants } from 'node:os';
import { writeInFlight } from '../privacy/audit.js';

/** Signals that end a process by default, from a terminal (Ctrl-C, a closed window) or a supervisor. */
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

let installed = false;

/**
 * Records are written synchronously as each request ends, so nothing is ever pending but the
 * requests a backend is still answering. They are written as `interrupted` on every way out: a
 * normal end, process.exit (the LSP `exit` notification, stdin closing), an uncaught error (all
 * of which emit `exit`), and the signals above, after which the process dies of the same signal
 * so its parent sees the conventional status (128 + the signal's number). Only SIGKILL loses a
 * request still in flight; an answered one is on disk already.
 */
export function recordInFlightOnExit(proc: NodeJS.Process = process): void {
  if (installed) return;
  installed = true;
  proc.on('exit', writeInFlight);
  for (const sig of SIGNALS) {
    const onSignal = (): void => {
      writeInFlight();
      proc.removeListener(sig, onSignal);
      // With no listener left the default action is back: the signal ends the process.
      if (proc.listenerCount(sig) === 0) {
        try {
          proc.kill(proc.pid, sig);
          return;
        } catch {
          /* a platform that cannot send it (Windows and SIGHUP): exit with its status instead */
        }
      }
      proc.exit(128 + constants.signals[sig]);
    };
    proc.on(sig, onSignal);
  }
}
