import { Type } from 'typebox';
import { Id, MAX_LIMIT, Nullable, NullableInput, PageQuery, pageOf, Timestamp } from '../../platform/http.js';
import { nameSchemas } from '../../platform/openapi.js';
import { SongSchema } from '../catalog/index.js';
import { EVENT_STATUSES } from './live.tables.js';

const Title = Type.String({ minLength: 1, maxLength: 200 });
const Description = Type.String({ maxLength: 2000 });

export const NowPlayingSchema = Type.Object(
  {
    song: SongSchema,
    positionMs: Type.Integer({ minimum: 0, description: 'how far into the song playback is now' }),
    startedAt: Timestamp,
  },
  { description: 'what plays now, decided by the server from the start time and the track durations' },
);

export const EventSchema = Type.Object({
  id: Id,
  title: Type.String(),
  description: Nullable(Type.String()),
  host: Type.Object({ id: Id, name: Type.String() }, { description: 'the hosting artist' }),
  playlist: Nullable(Type.Object({ id: Id, name: Type.String() }), {
    description: 'null once the playlist was deleted, or made private by someone other than the host',
  }),
  startsAt: Timestamp,
  status: Type.Enum(EVENT_STATUSES),
  nowPlaying: Type.Union([NowPlayingSchema, Type.Null()], { description: 'null unless the event is live' }),
  listenerCount: Type.Integer({ minimum: 0, description: 'sockets in the event’s chat room' }),
  createdAt: Timestamp,
});

export const EventPageSchema = pageOf(EventSchema);

export const CreateEventBody = Type.Object(
  {
    title: Title,
    description: Type.Optional(NullableInput(Description)),
    playlistId: Type.String({ format: 'uuid', description: 'a playlist the host can see' }),
    startsAt: Type.String({ format: 'date-time', description: 'in the future' }),
    artistId: Type.Optional(
      Type.String({ format: 'uuid', description: 'the hosting artist; admins only, and required for them' }),
    ),
  },
  { additionalProperties: false },
);

export const UpdateEventBody = Type.Object(
  {
    title: Type.Optional(Title),
    description: Type.Optional(NullableInput(Description)),
    playlistId: Type.Optional(Type.String({ format: 'uuid' })),
    startsAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const EventListQuery = Type.Object(
  {
    status: Type.Optional(Type.Enum(EVENT_STATUSES)),
    artistId: Type.Optional(Type.String({ format: 'uuid' })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const MessageSchema = Type.Object({
  id: Id,
  eventId: Id,
  user: Type.Object({ id: Id, displayName: Type.String() }),
  text: Type.String(),
  createdAt: Timestamp,
});

export const MessageFeedSchema = Type.Object({
  items: Type.Array(MessageSchema, { description: 'newest first' }),
  nextCursor: Nullable(Type.String()),
});

export const MessagesQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 50 })),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' }),
    ),
  },
  { additionalProperties: false },
);

export const MessageParams = Type.Object({ id: Id, messageId: Id }, { additionalProperties: false });

nameSchemas({
  NowPlaying: NowPlayingSchema,
  Event: EventSchema,
  EventMessage: MessageSchema,
  EventMessageFeed: MessageFeedSchema,
});
