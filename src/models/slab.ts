/**
 * Typed arrays for the small per-request buffers of the serving path (a request's model input, its recorded values),
 * carved from shared slabs. A typed array of more than 64 bytes made with `new` gets a backing store outside V8's
 * heap, which costs an allocation and a finalizer for the garbage collector: at 1 row per request that was several
 * percent of the server's CPU. A slab's regions are handed out once each, in order, never reused; a full slab is left
 * to the collector (freed when its last view is gone) and a new one started. Requests larger than an eighth of a slab
 * get an array of their own.
 */
type Typed = Float32Array | Float64Array;

/** Numbers per slab; the first is made on first use. */
const slabLength = 1 << 16;

export function slabAllocator<T extends Typed>(make: (length: number) => T): (length: number) => T {
  let slab: T | undefined;
  let used = 0;
  return (length) => {
    if (length > slabLength >> 3) return make(length);
    if (!slab || used + length > slabLength) {
      slab = make(slabLength);
      used = 0;
    }
    const region = slab.subarray(used, used + length) as T;
    used += length;
    return region;
  };
}
