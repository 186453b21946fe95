/** Hands out GPU indices so concurrent trainers never share a device. */
export class GpuPool {
  private readonly free: number[];

  constructor(count: number) {
    this.free = Array.from({ length: count }, (_, i) => i);
  }

  acquire(): number | undefined {
    return this.free.shift();
  }

  release(index: number | undefined): void {
    if (index !== undefined) this.free.push(index);
  }
}
