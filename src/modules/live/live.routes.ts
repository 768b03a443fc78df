import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearerSecurity, requireRole } from '../../platform/auth.js';
import { IdParams, problems, toPage } from '../../platform/http.js';
import type { LiveChat } from './live.chat.js';
import {
  CreateEventBody,
  EventListQuery,
  EventPageSchema,
  EventSchema,
  MessageFeedSchema,
  MessageParams,
  MessagesQuery,
  UpdateEventBody,
} from './live.schemas.js';
import type { LiveService } from './live.service.js';

export interface LiveRouteOptions {
  live: LiveService;
  chat: LiveChat;
}

const BASE = '/api/v1';
const tags = ['events'];
const NoContent = Type.Null({ description: 'no content' });

export const liveRoutes: FastifyPluginAsyncTypebox<LiveRouteOptions> = async (app, { live, chat }) => {
  const hosts = requireRole('artist', 'admin');
  const signedIn = requireRole();

  app.post(
    '/events',
    {
      preHandler: hosts,
      schema: {
        operationId: 'createEvent',
        tags,
        summary: 'Schedule a listening event',
        description:
          'An artist schedules a playlist to play for their followers at `startsAt`; an admin does it for ' +
          'the artist named by `artistId`. The playlist must be one the host can see; at `startsAt` the ' +
          'event goes live and the artist’s followers get an `event.started` notification.',
        security: bearerSecurity,
        body: CreateEventBody,
        response: { 201: EventSchema, ...problems(401, 403, 415) },
      },
    },
    async (request, reply) => {
      const event = await live.create(request.user!, request.body);
      return reply.code(201).header('location', `${BASE}/events/${event.id}`).send(event);
    },
  );

  app.get(
    '/events',
    {
      schema: {
        operationId: 'listEvents',
        tags,
        summary: 'List listening events',
        description: 'Events by start time (earliest first), filtered by `status` and hosting `artistId`.',
        querystring: EventListQuery,
        response: { 200: EventPageSchema, ...problems() },
      },
    },
    async (request) => {
      const { status, artistId, limit = 20, offset = 0 } = request.query;
      const { items, total } = await live.list({ status, artistId, limit, offset });
      return toPage(request, items, total, limit, offset);
    },
  );

  app.get(
    '/events/:id',
    {
      schema: {
        operationId: 'getEvent',
        tags,
        summary: 'Get a listening event',
        description: 'With `nowPlaying` (the song and position every listener hears) while it is live.',
        params: IdParams,
        response: { 200: EventSchema, ...problems(404) },
      },
    },
    (request) => live.get(request.params.id),
  );

  app.patch(
    '/events/:id',
    {
      preHandler: hosts,
      schema: {
        operationId: 'updateEvent',
        tags,
        summary: 'Change a listening event before it starts',
        description:
          'Host or admin; once the event has started (or ended, or was cancelled) the answer is `409`.',
        security: bearerSecurity,
        params: IdParams,
        body: UpdateEventBody,
        response: { 200: EventSchema, ...problems(401, 403, 404, 409, 415) },
      },
    },
    (request) => live.update(request.user!, request.params.id, request.body),
  );

  app.delete(
    '/events/:id',
    {
      preHandler: hosts,
      schema: {
        operationId: 'cancelEvent',
        tags,
        summary: 'Cancel a listening event',
        description: 'Host or admin. The event stays, with status `cancelled`; its chat closes.',
        security: bearerSecurity,
        params: IdParams,
        response: { 204: NoContent, ...problems(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await live.cancel(request.user!, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/events/:id/messages',
    {
      preHandler: signedIn,
      schema: {
        operationId: 'listEventMessages',
        tags,
        summary: 'Chat history of a listening event',
        description:
          'Newest first; page with `nextCursor`. Live messages arrive over socket.io (see the API guide).',
        security: bearerSecurity,
        params: IdParams,
        querystring: MessagesQuery,
        response: { 200: MessageFeedSchema, ...problems(401, 403, 404) },
      },
    },
    (request) => {
      const { limit = 50, cursor } = request.query;
      return live.history(request.params.id, { limit, cursor });
    },
  );

  app.delete(
    '/events/:id/messages/:messageId',
    {
      preHandler: hosts,
      schema: {
        operationId: 'deleteEventMessage',
        tags,
        summary: 'Delete a chat message',
        description: 'Host or admin (moderation). Everyone in the event gets `message_deleted { id }`.',
        security: bearerSecurity,
        params: MessageParams,
        response: { 204: NoContent, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await live.deleteMessage(request.user!, request.params.id, request.params.messageId);
      chat.messageDeleted(request.params.id, request.params.messageId);
      return reply.code(204).send(null);
    },
  );
};
