// Micro-batching between the sockets and the deciding code. Frames from all connections that
// arrive in one event-loop turn go out as one batch (at most batchMax frames): one worker task
// costs about as much as 64 items, so batching is where the throughput comes from.
import { performance } from 'node:perf_hooks';
import type { FieldFault, ProcessedEvent } from '../events.js';

export interface RunResult {
  /** Complete framed answers (2-byte length included); null means "no answer" (dropped frame). */
  frames: ReadonlyArray<Buffer | null>;
  /** Field 39 of each answer, '' where none. */
  codes: readonly string[];
  /** The money messages decided (for the live feed and the reason metrics). */
  events?: readonly ProcessedEvent[];
  /** Why frames[i] got no answer (safe to log: never quotes content), null or absent where answered. */
  dropped?: ReadonlyArray<string | null>;
  /** Where frames[i] was answered 30 (format error): the field and the problem (never content), null or absent elsewhere. */
  faults?: ReadonlyArray<FieldFault | null>;
}

export interface BatchRunner {
  /** Answers frames[i] (a message body, length prefix stripped) with result.frames[i]. */
  run(frames: readonly Buffer[]): Promise<RunResult>;
  close(): Promise<void>;
}

export interface ReplyTarget {
  deliver(response: Buffer | null): void;
  /** The connection the request came in on, for log lines: `#<id> <address>:<port>`. */
  readonly peer: string;
}

export interface DispatchObserver {
  /** Called once per frame when its answer (or drop) is known. */
  answered(request: Buffer, code: string, latencySeconds: number): void;
  batchFailed(err: unknown): void;
  /** A frame that could not be decoded far enough to answer it: dropped (SPEC §2.2), with the reason and its connection. */
  undecodable?(reason: string, target: ReplyTarget): void;
  /** Called once per batch with its decided money messages. */
  processed?(events: readonly ProcessedEvent[]): void;
  /** A frame answered 30 (format error): the field at fault and the problem, and its connection. */
  formatError?(fault: FieldFault, target: ReplyTarget): void;
}

export class Dispatcher {
  private frames: Buffer[] = [];
  private targets: ReplyTarget[] = [];
  private startedMs: number[] = [];
  private scheduled = false;
  private running = 0;
  private readonly flushBound = () => { this.scheduled = false; this.flush(); };

  constructor(
    private readonly runner: BatchRunner,
    private readonly batchMax: number,
    /** Answers the frames of a batch the runner could not decide (worker crash): never leave a request unanswered silently. */
    private readonly onBatchError: (frames: readonly Buffer[]) => RunResult,
    private readonly observer: DispatchObserver | null = null,
  ) {}

  submit(frame: Buffer, target: ReplyTarget): void {
    this.frames.push(frame);
    this.targets.push(target);
    this.startedMs.push(performance.now());
    if (this.frames.length >= this.batchMax) this.flush();
    else if (!this.scheduled) { this.scheduled = true; setImmediate(this.flushBound); }
  }

  get inflightBatches(): number { return this.running; }

  private flush(): void {
    if (this.frames.length === 0) return;
    const frames = this.frames;
    const targets = this.targets;
    const started = this.startedMs;
    this.frames = [];
    this.targets = [];
    this.startedMs = [];
    this.running++;
    this.runner.run(frames).then(
      (r) => this.answer(frames, targets, started, r),
      (err: unknown) => {
        this.observer?.batchFailed(err);
        this.answer(frames, targets, started, this.onBatchError(frames));
      },
    );
  }

  private answer(frames: Buffer[], targets: ReplyTarget[], started: number[], r: RunResult): void {
    this.running--;
    const now = performance.now();
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i] as ReplyTarget;
      target.deliver(r.frames[i] ?? null);
      const why = r.dropped?.[i];
      if (why !== null && why !== undefined) this.observer?.undecodable?.(why, target);
      const fault = r.faults?.[i];
      if (fault !== null && fault !== undefined) this.observer?.formatError?.(fault, target);
      this.observer?.answered(frames[i] as Buffer, r.codes[i] ?? '', (now - (started[i] as number)) / 1000);
    }
    if (r.events !== undefined && r.events.length > 0) this.observer?.processed?.(r.events);
  }
}
