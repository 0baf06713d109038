// Lines of a text without splitting all of it: a next-edit request reads some seventy lines around
// the cursor of a file that may have thousands, and splitting the whole text (a string per line,
// three times a request) cost more than the lines it used. The CLI checks its positions with it.

/** The starts of the text's lines found once (a number each, no string), lines cut out on demand. */
export class TextLines {
  private starts: number[] | undefined;

  constructor(readonly text: string) {}

  private all(): number[] {
    if (!this.starts) {
      const s = [0];
      for (let i = this.text.indexOf('\n'); i >= 0; i = this.text.indexOf('\n', i + 1)) s.push(i + 1);
      this.starts = s;
    }
    return this.starts;
  }

  /** Its lines, a final line break ending the last line rather than starting an empty one ('' has one). */
  get count(): number {
    const s = this.all();
    return s.length > 1 && s[s.length - 1] === this.text.length ? s.length - 1 : s.length;
  }

  /** Line `i` (0-based) without its line break or a CR before it; '' past the end. */
  line(i: number): string {
    const s = this.all();
    if (i < 0 || i >= s.length) return '';
    const start = s[i]!;
    const end = i + 1 < s.length ? s[i + 1]! - 1 : this.text.length;
    return end > start && this.text.charCodeAt(end - 1) === 13 ? this.text.slice(start, end - 1) : this.text.slice(start, end);
  }

  /**
   * Lines `from..to` (exclusive), as `text.split('\n')` with CRs dropped would give them: after a
   * final line break, the empty line it starts is there too.
   */
  slice(from: number, to: number): string[] {
    const out: string[] = [];
    const end = Math.min(to, this.all().length);
    for (let i = Math.max(0, from); i < end; i++) out.push(this.line(i));
    return out;
  }

  /** Offset of line `i`'s start; the text's length past its last line. */
  offset(i: number): number {
    const s = this.all();
    return i <= 0 ? 0 : i < s.length ? s[i]! : this.text.length;
  }

  /** The line that holds `offset` (a line break belongs to the line it ends). */
  lineAt(offset: number): number {
    const s = this.all();
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
