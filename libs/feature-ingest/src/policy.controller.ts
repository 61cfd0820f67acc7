import { Controller, Get, HttpException, Inject, Put, Query, Req } from '@nestjs/common';
import { EffectivePolicy, InvalidPolicySetError, PolicyCache, PolicyConflict, PolicySet, PolicyStore } from '@skein/domain';
import { readRawBody } from '@skein/service-kit';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { INGEST_HTTP_CONTEXT, IngestHttpContext, authenticateRequest } from './ingest-http';

/** PolicyAdminOptions: the policy store, this instance's cache, and the admin token guarding writes. */
export interface PolicyAdminOptions {
  store: PolicyStore;
  cache: PolicyCache;
  /** adminToken: `Authorization: Bearer <token>` of the admin API (at least 16 characters). */
  adminToken: string;
}

/** POLICY_ADMIN: injection token of the {@link PolicyAdminOptions}. */
export const POLICY_ADMIN = Symbol('POLICY_ADMIN');

const MAX_POLICY_BODY_BYTES = 4 * 1024 * 1024;

function sameSecret(presented: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * PolicyController: the live sampling and switch policy. SDKs read their effective policy (Jaeger-style remote
 * sampling); operators read and replace the policy set through the admin API. A change is stored in Redis and
 * applied by every gateway instance at its next refresh (within 5 s), without restart.
 */
@Controller('api/v1')
export class PolicyController {
  constructor(
    @Inject(INGEST_HTTP_CONTEXT) private readonly context: IngestHttpContext,
    @Inject(POLICY_ADMIN) private readonly admin: PolicyAdminOptions,
  ) {}

  /** sampling: `GET /api/v1/sampling?service=<name>` with the application's API key: the policy in force for that service. */
  @Get('sampling')
  sampling(@Req() request: IncomingMessage, @Query('service') service?: string): EffectivePolicy {
    const app = authenticateRequest(this.context, request) ?? 'anonymous';
    if (!service) throw new HttpException({ error: 'invalid_parameter', message: 'service: required' }, 400);
    return this.admin.cache.effective(app, service);
  }

  /** getPolicy: `GET /api/v1/admin/policy` — the stored policy set with its version. */
  @Get('admin/policy')
  async getPolicy(@Req() request: IncomingMessage): Promise<PolicySet> {
    this.authorizeAdmin(request);
    return this.admin.store.get();
  }

  /**
   * putPolicy: `PUT /api/v1/admin/policy` with `{"rules":[…]}`; `If-Match: <version>` makes it a compare-and-set
   * (409 when someone changed it first). Answers the stored set with its new version.
   */
  @Put('admin/policy')
  async putPolicy(@Req() request: IncomingMessage): Promise<PolicySet> {
    this.authorizeAdmin(request);
    const body = await readRawBody(request, MAX_POLICY_BODY_BYTES);
    let input: unknown;
    try {
      input = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new HttpException({ error: 'invalid_json', message: `body is not valid JSON: ${(err as Error).message}` }, 400);
    }
    const ifMatch = request.headers['if-match'];
    const expected = ifMatch === undefined ? undefined : Number(String(ifMatch).replace(/"/g, ''));
    if (expected !== undefined && !Number.isSafeInteger(expected)) throw new HttpException({ error: 'invalid_parameter', message: 'If-Match: must be a policy version number' }, 400);
    const rules = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)['rules'] : undefined;
    try {
      const stored = await this.admin.store.put({ version: expected ?? 0, rules } as PolicySet, expected);
      await this.admin.cache.refresh();
      return stored;
    } catch (err) {
      if (err instanceof InvalidPolicySetError) throw new HttpException({ error: 'invalid_policy', message: err.message, violations: err.violations }, 400);
      if (err instanceof PolicyConflict) throw new HttpException({ error: 'conflict', message: err.message }, 409);
      throw err;
    }
  }

  private authorizeAdmin(request: IncomingMessage): void {
    const header = request.headers['authorization'] ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (match === null || !sameSecret(match[1] as string, this.admin.adminToken)) {
      throw new HttpException({ error: 'unauthenticated', message: 'the admin API needs "Authorization: Bearer <SKEIN_ADMIN_TOKEN>"' }, 401);
    }
  }
}
