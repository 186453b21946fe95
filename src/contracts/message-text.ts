/** Client-given text inside error messages, bounded. Pure, so the workflows and contracts use it too. */

/**
 * A client's name or text quoted for an error message, cut after `max` characters: a field name can be as long as the
 * body, and an answer must not echo a megabyte back.
 */
export function quoteText(text: string, max = 80): string {
  return text.length > max
    ? `${JSON.stringify(text.slice(0, max))}… (${text.length} characters)`
    : JSON.stringify(text);
}

/** Client-given names, each quoted (`quoteText`), the first `max` of them, then how many more there are. */
export function namesText(names: readonly string[], max = 10): string {
  const more = names.length > max ? ` and ${names.length - max} more` : '';
  return `${names
    .slice(0, max)
    .map((n) => quoteText(n))
    .join(', ')}${more}`;
}

/** A request's problems as one message: the first `max` of them, then how many more there are. */
export function problemsText(problems: readonly string[], max = 100): string {
  if (problems.length <= max) return problems.join('; ');
  return `${problems.slice(0, max).join('; ')}; and ${problems.length - max} more (${problems.length} problems in all)`;
}

/** A share (0–1) as a percentage to three significant figures: `31.5 %`, `0.2 %`, `100 %`. */
export function shareText(share: number): string {
  return `${Number((100 * share).toPrecision(3))} %`;
}
