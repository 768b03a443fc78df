import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearerSecurity, requireRole } from './auth.js';
import type { Db } from './db.js';
import { Nullable, PageQuery, pageOf, problems, Timestamp, toPage } from './http.js';
import { JOB_STATUSES, type JobRow, listJobs } from './jobs.js';
import { nameSchemas } from './openapi.js';

const JobSchema = Type.Object({
  id: Type.String(),
  type: Type.String(),
  status: Type.Enum([...JOB_STATUSES]),
  priority: Type.Integer(),
  attempts: Type.Integer(),
  maxAttempts: Type.Integer(),
  payload: Type.Unknown(),
  progress: Type.Unknown({ description: 'What the handler reported: any JSON value, or null' }),
  lastError: Nullable(Type.String()),
  runAt: Timestamp,
  createdAt: Timestamp,
  startedAt: Nullable(Timestamp),
  finishedAt: Nullable(Timestamp),
});
nameSchemas({ Job: JobSchema });

const iso = (date: Date | null) => date?.toISOString() ?? null;

function toJobView(row: JobRow) {
  return {
    id: String(row.id),
    type: row.type,
    status: row.status,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    payload: row.payload,
    progress: row.progress ?? null,
    lastError: row.lastError,
    runAt: row.runAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    startedAt: iso(row.startedAt),
    finishedAt: iso(row.finishedAt),
  };
}

/** `GET /admin/jobs`: what the durable queue holds, newest first, for admins. */
export const jobRoutes: FastifyPluginAsyncTypebox<{ db: Db }> = async (app, { db }) => {
  app.get(
    '/admin/jobs',
    {
      preHandler: requireRole('admin'),
      schema: {
        tags: ['admin'],
        operationId: 'listJobs',
        summary: 'List background jobs',
        description: 'Background jobs (transcodes, scans, schedules), newest first.',
        security: bearerSecurity,
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Enum([...JOB_STATUSES])),
            type: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(JobSchema), ...problems(400, 401, 403) },
      },
    },
    async (request) => {
      const { limit = 20, offset = 0, status, type } = request.query;
      const { rows, total } = await listJobs(db, { status, type, limit, offset });
      return toPage(request, rows.map(toJobView), total, limit, offset);
    },
  );
};
