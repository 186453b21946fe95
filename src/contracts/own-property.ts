/**
 * Sets `record[key]` as an own, enumerable property, as JSON.parse and Object.fromEntries do. A plain assignment of
 * `__proto__` sets the record's prototype instead (or does nothing, for a value that is not an object), so a feature
 * or class of that name would vanish from the record.
 */
export function setOwn(record: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}

/** `record[key]` when the record has it as its own property; undefined for a key it only inherits (`toString`). */
export function ownValue<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}
