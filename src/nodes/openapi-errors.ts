/**
 * Turns an OpenAPI failure into the error a node hands to done(): DingTalk's code kept on `err.code`
 * (Catch nodes and flows can branch on it), the message translated, never a token or secret in it.
 */
import { OpenApiError } from '../core/openapi/client';

export function apiError(err: unknown, translate: (code: string, message: string) => string): Error & { code?: string } {
  if (err instanceof OpenApiError) {
    const out = new Error(translate(err.code, err.message)) as Error & { code?: string; status?: number };
    out.code = err.code;
    if (err.status !== undefined) out.status = err.status;
    return out;
  }
  return err instanceof Error ? err : new Error(String(err));
}
