// Token estimates without a tokenizer: conservative, so a prompt we think fits does fit.

/**
 * Code tokenizes at roughly 3.5-4 characters per token with the BPE vocabularies of coding
 * models; counting 3 keeps us under the limit. A context-length error from the server is
 * handled by shrinking once, so an estimate that is a little off never loses a completion.
 */
export const CHARS_PER_TOKEN = 3;

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

export function tokensToChars(tokens: number): number {
  return Math.max(0, Math.floor(tokens * CHARS_PER_TOKEN));
}
