/** What the build writes; the first is written first, so it is the oldest. */
export declare const BUILT: ReadonlyArray<string>
/** True when every output exists and the oldest of them is newer than the newest input. */
export declare const distIsFresh: (root: string) => boolean
