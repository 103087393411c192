/**
 * Approval details for enrichment (protocol §12.3): the v1.0 process-instance API, falling back to
 * the old topapi call for apps that only hold that permission. Form values become a name -> value map.
 */
import { OpenApiError, type OpenApiClient } from './client';

type Json = Record<string, unknown>;

export interface ApprovalDetails {
  instance: Json;
  formValues: Record<string, unknown>;
  source: 'v1.0' | 'topapi';
}

function formMap(components: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(components)) return out;
  for (const c of components as Json[]) {
    const name = typeof c?.name === 'string' && c.name ? c.name : typeof c?.id === 'string' ? c.id : undefined;
    if (name !== undefined) out[name] = c.value;
  }
  return out;
}

export async function approvalDetails(client: OpenApiClient, processInstanceId: string): Promise<ApprovalDetails> {
  try {
    const res = await client.call({ family: 'api', method: 'GET', path: '/v1.0/workflow/processInstances', query: { processInstanceId } });
    const instance = (res.result ?? {}) as Json;
    return { instance, formValues: formMap(instance.formComponentValues), source: 'v1.0' };
  } catch (err) {
    // No v1.0 permission (403) or an old app: the topapi call may still be allowed for it.
    if (!(err instanceof OpenApiError) || err.code === 'ip-blocked' || err.code === 'network' || (err.status !== undefined && err.status < 400)) throw err;
    const res = await client.call({ family: 'oapi', method: 'POST', path: '/topapi/processinstance/get', body: { process_instance_id: processInstanceId } });
    const instance = (res.process_instance ?? {}) as Json;
    return { instance, formValues: formMap(instance.form_component_values), source: 'topapi' };
  }
}
