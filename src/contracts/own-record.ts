/**
 * A record schema that keeps every own key of its input. Zod's `z.record` drops a key named `__proto__`, so a drift
 * threshold for a feature of that name vanished from a monitoring input without a word; this one checks each value
 * with the given schema (issues name the key) and returns the keys as own properties, as JSON.parse makes them.
 */
import { z } from 'zod';
import { setOwn } from './own-property';

export function ownRecord<T extends z.ZodTypeAny>(
  value: T,
): z.ZodType<Record<string, z.output<T>>, z.ZodTypeDef, Record<string, z.input<T>>> {
  return z
    .custom<Record<string, z.input<T>>>(
      (raw) => typeof raw === 'object' && raw !== null && !Array.isArray(raw),
      'must be an object of name → value',
    )
    .transform((raw, ctx) => {
      // One pass: each value checked once, its issues named by its key, its output kept as an own property.
      const out: Record<string, z.output<T>> = {};
      for (const key of Object.keys(raw)) {
        const checked = value.safeParse(raw[key]);
        if (checked.success) setOwn(out, key, checked.data);
        else for (const issue of checked.error.issues) ctx.addIssue({ ...issue, path: [key, ...issue.path] });
      }
      return out;
    });
}
