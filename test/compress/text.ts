/** The text test/fixtures/handlers/text.js answers with (kept in step with it). */
const LOREM = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. ';

export function text(n: number): string {
  return LOREM.repeat(Math.ceil(n / LOREM.length)).slice(0, n);
}
