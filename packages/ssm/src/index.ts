/**
 * @tessera/ssm: state-space and linear-recurrent sequence layers. Each has a literal recurrence
 * (the reference), a parallel or chunked form, and a one-token step, tested to agree.
 */
export { selectiveScan, type SelectiveScanOptions, type SelectiveScanImplementation, type ScanResult } from "./selective/scan";
export { selectiveStateUpdate, type StateUpdateOptions } from "./selective/step";
