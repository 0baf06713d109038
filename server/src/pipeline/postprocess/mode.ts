// Decides single- or multi-line mode from what follows the cursor on its line.

/** Closing brackets, quotes and separators an editor auto-inserts: code after the cursor that is not "real". */
const TRIVIAL_REST = /^[\s)\]}>"'`;,:]*$/;

export function completionMode(lineSuffix: string, multilineAllowed: boolean): 'single' | 'multi' {
  if (!multilineAllowed) return 'single';
  return TRIVIAL_REST.test(lineSuffix) ? 'multi' : 'single';
}
