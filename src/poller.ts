/**
 * A worker's loop: `pass` every `pollMs` and whenever kicked, one pass at a time; a kick during a pass
 * asks for one more pass after it (work queued meanwhile is not left for the next poll). A pass that
 * throws is reported to `onError` and the loop goes on.
 */
export class Poller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stoppedFlag = true;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly pollMs: number,
    private readonly onError: (e: unknown) => void,
  ) {}

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  start(): void {
    this.stoppedFlag = false;
    this.timer = setInterval(() => void this.run(), this.pollMs);
    this.timer.unref();
    void this.run();
  }

  /** Stops polling and waits for the pass under way. */
  async stop(): Promise<void> {
    this.stoppedFlag = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Work was queued: a pass now rather than at the next poll (none once stopped). */
  kick(): void {
    if (!this.stoppedFlag) void this.run();
  }

  /** A pass now (or, during one, one more after it); resolves when the passes are over. */
  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const loop = async () => {
      do {
        this.again = false;
        try {
          await this.pass();
        } catch (e) {
          this.onError(e);
        }
      } while (this.again && !this.stoppedFlag);
    };
    const p: Promise<void> = loop().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }
}
