import { API_NAMES, type Api, type ApiName } from '../../../shared/api.js';

/** Builds the typed request methods of an ApiClient from one generic "call this request" function. */
export function apiFromCall(call: (name: ApiName, input: unknown) => Promise<unknown>): Api {
  return Object.fromEntries(API_NAMES.map((name) => [name, (input?: unknown) => call(name, input)])) as unknown as Api;
}
