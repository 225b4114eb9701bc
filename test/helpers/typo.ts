/**
 * The text with its last character changed, as a one-key typo would: always different from the original
 * (replacing it with a fixed letter leaves a key that already ends in that letter unchanged, 1 run in 32).
 * `q` and `p` are both in bech32's and base64url's alphabets, so the result still looks well-formed.
 */
export function mistype(text: string): string {
  return `${text.slice(0, -1)}${text.endsWith('q') ? 'p' : 'q'}`;
}
