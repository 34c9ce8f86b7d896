// Types for sdk/kyso.js.

export declare const DEFAULT_BASE: string;

/** An error with Kyso's stable code (e.g. "PIN_INCORRECT") and both messages. */
export declare class KysoError extends Error {
  readonly code: string;
  /** The Vietnamese message. */
  readonly messageVi: string;
  /** The HTTP status, or 0 when Kyso was not reached. */
  readonly status: number;
}

export interface DetectResult {
  /** "blocked": the browser's local-network permission stops the page. */
  state: 'running' | 'not-running' | 'blocked';
  version?: string;
  paired?: boolean;
  permission?: PermissionState;
}

/** A visible signature per Decree 30/2020 (see docs/appearance/README.md). */
export interface Appearance {
  profile: 'approved' | 'issued' | 'appendix' | 'copy';
  page?: number;
  rect?: [number, number, number, number];
  rect_mm?: [number, number, number, number];
  anchor?: { text: string; place?: 'above' | 'over' | 'below'; offset_mm?: number };
  size_mm?: [number, number];
  /** PNG with a transparent background, base64. File paths are refused. */
  signature_image?: { png_base64: string };
  seal_image?: { png_base64: string };
  seal_mm?: number;
  organization?: string;
  doc_number?: string;
  copy_notation?: string;
}

export interface SignOptions {
  appearance?: Appearance;
  reason?: string;
  location?: string;
  contact_info?: string;
  field_name?: string;
  /** The document's name shown in Kyso's window. */
  name?: string;
  /** A window opened earlier by the caller, or null to let Kyso's window open separately. */
  popup?: Window | null;
  uploadTimeoutMs?: number;
}

export interface KysoClient {
  detect(): Promise<DetectResult>;
  sign(pdf: Blob, opts?: SignOptions): Promise<Blob>;
  signBatch(pdfs: Blob[], opts?: Omit<SignOptions, 'field_name' | 'name'>): Promise<Blob[]>;
}

export declare function createClient(opts?: { base?: string; timeoutMs?: number }): KysoClient;
export declare function detect(): Promise<DetectResult>;
export declare function sign(pdf: Blob, opts?: SignOptions): Promise<Blob>;
export declare function signBatch(pdfs: Blob[], opts?: Omit<SignOptions, 'field_name' | 'name'>): Promise<Blob[]>;
