import { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import { type AuthUser, bearerSecurity, requireRole } from '../../platform/auth.js';
import { ValidationError } from '../../platform/errors.js';
import { IdParams, problems } from '../../platform/http.js';
import { UPLOAD_MARK } from '../../platform/validation.js';
import { AlbumSchema, ArtistSchema, CreateSongBody, SongSchema, type SongView } from '../catalog/index.js';
import { UserSchema } from '../identity/index.js';
import { mediaNotFound, sendFile } from './media.files.js';
import { CONTENT_TYPES } from './media.probe.js';
import { type MediaService, QUALITIES, type Quality } from './media.service.js';
import type { UrlSigner } from './media.signing.js';
import type { MediaStorage } from './media.storage.js';
import { type ReceivedFile, receiveFile, tooLarge, unsupportedMedia } from './media.uploads.js';

export interface MediaRouteOptions {
  media: MediaService;
  storage: MediaStorage;
  signer: UrlSigner;
  uploadMaxBytes: number;
  imageMaxBytes: number;
}

const FILE_PART = 'file';
const MAX_FIELDS = 20;

/** Hands a raw body on unread: upload handlers stream it to disk themselves. */
function acceptRawBodies(app: FastifyInstance, types: (string | RegExp)[]): void {
  for (const type of types) app.addContentTypeParser(type, (_request, payload, done) => done(null, payload));
}

/** The declared length, when the client sent one, already over the limit: refuse before reading. */
function assertDeclaredLength(request: FastifyRequest, maxBytes: number): void {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes + 64 * 1024) throw tooLarge(maxBytes);
}

export interface MultipartUpload {
  file: ReceivedFile;
  fileName: string | undefined;
  fields: Record<string, string>;
}

/**
 * Reads a multipart body: exactly one part named `file` (streamed to disk as it arrives) and
 * plain fields. No file part, or two, is a 400 and leaves no file behind.
 */
export async function readMultipartUpload(
  request: FastifyRequest,
  storage: MediaStorage,
  maxBytes: number,
): Promise<MultipartUpload> {
  const fields: Record<string, string> = {};
  let upload: { file: ReceivedFile; fileName: string | undefined } | undefined;
  try {
    for await (const part of request.parts({
      limits: { files: 2, fields: MAX_FIELDS, fieldSize: 10_000, fileSize: maxBytes + 1 },
    })) {
      if (part.type === 'field') {
        fields[part.fieldname] = String(part.value);
        continue;
      }
      if (part.fieldname !== FILE_PART || upload) {
        part.file.resume();
        throw new ValidationError(
          upload ? 'Send exactly one file part' : `Send the file in a part named "${FILE_PART}"`,
          [
            {
              path: `/${part.fieldname}`,
              message: upload ? 'only one file is allowed' : 'unexpected file part',
            },
          ],
          upload ? 'TOO_MANY_FILES' : 'UNEXPECTED_FILE_PART',
        );
      }
      upload = { file: await receiveFile(storage, part.file, maxBytes), fileName: part.filename };
    }
  } catch (error) {
    if (upload) await storage.remove(upload.file.tmp);
    throw error;
  }
  if (!upload) {
    throw new ValidationError(
      `The form has no part named "${FILE_PART}"`,
      [{ path: `/${FILE_PART}`, message: 'is required' }],
      'MISSING_FILE',
    );
  }
  return { ...upload, fields };
}

// Partial drops the body's additionalProperties: false; a form field the JSON body would refuse is refused too.
const SongFormFields = Type.Partial(CreateSongBody, { additionalProperties: false });

/**
 * The multipart `POST /albums/:id/songs` the catalog route hands over: form fields are text, so
 * they are converted to the JSON body's types and checked against the same schema.
 */
export function songFromFile(media: MediaService, storage: MediaStorage, maxBytes: number) {
  return async (request: FastifyRequest, caller: AuthUser, albumId: string): Promise<SongView> => {
    await media.albumToManage(caller, albumId);
    assertDeclaredLength(request, maxBytes);
    const { file, fileName, fields } = await readMultipartUpload(request, storage, maxBytes);
    const values = Value.Convert(SongFormFields, fields);
    if (!Value.Check(SongFormFields, values)) {
      await storage.remove(file.tmp);
      const errors = [...Value.Errors(SongFormFields, values)].map((e) => ({
        path: e.instancePath || '/',
        message: e.message,
      }));
      throw new ValidationError('The form fields are invalid', errors);
    }
    return media.createSongFromFile(caller, albumId, file, values, fileName);
  };
}

/** A raw body or the `file` part of a form, on disk. */
async function readUpload(
  request: FastifyRequest,
  storage: MediaStorage,
  maxBytes: number,
): Promise<ReceivedFile> {
  assertDeclaredLength(request, maxBytes);
  if (request.isMultipart()) {
    const { file, fields } = await readMultipartUpload(request, storage, maxBytes);
    const extra = Object.keys(fields);
    if (extra.length) {
      await storage.remove(file.tmp);
      throw new ValidationError(
        'This upload takes only the file',
        extra.map((name) => ({ path: `/${name}`, message: 'is not allowed' })),
      );
    }
    return file;
  }
  // No body at all (nothing for a parser to hand on) is as empty as a zero-byte one.
  if (!(request.body instanceof Readable)) throw unsupportedMedia('The body is empty');
  return receiveFile(storage, request.body, maxBytes);
}

const RawFile = Type.Unsafe<unknown>({ type: 'string', format: 'binary', [UPLOAD_MARK]: true });
const FileForm = Type.Unsafe<unknown>({
  type: 'object',
  properties: { file: { type: 'string', format: 'binary' } },
  required: ['file'],
  [UPLOAD_MARK]: true,
});

/** The request body an upload route documents: the file itself, or a form with a `file` part. */
function uploadBody(rawTypes: string[]) {
  return {
    content: {
      ...Object.fromEntries(rawTypes.map((type) => [type, { schema: RawFile }])),
      'multipart/form-data': { schema: FileForm },
    },
  };
}

/** Routes under /api/v1: uploads, signed stream redirects, pictures. */
export const mediaApiRoutes: FastifyPluginAsyncTypebox<MediaRouteOptions> = async (app, opts) => {
  const { media, storage } = opts;
  const publisher = requireRole('artist', 'admin');
  const signedIn = requireRole();
  // Only files here: a JSON or text body on an upload route is 415, not parsed.
  app.removeAllContentTypeParsers();
  await app.register(multipart);
  acceptRawBodies(app, [/^audio\//, 'application/octet-stream', 'application/ogg', /^image\//]);
  app.addContentTypeParser('*', (_request, _payload, done) =>
    done(
      unsupportedMedia('Send the file itself (audio/* or image/*) or a multipart/form-data form'),
      undefined,
    ),
  );

  app.put(
    '/songs/:id/audio',
    {
      preHandler: publisher,
      bodyLimit: opts.uploadMaxBytes + 1024 * 1024,
      schema: {
        tags: ['media'],
        operationId: 'uploadSongAudio',
        summary: 'Upload or replace the audio file of a song',
        description:
          'The body is the audio file (any audio/* type) or a form with one part named file. The bytes decide the type: anything ffmpeg cannot decode as audio is 415. Transcoding runs in a job; the song answers with audio.status "processing".',
        security: bearerSecurity,
        params: IdParams,
        body: uploadBody(['audio/mpeg', 'audio/flac', 'application/octet-stream']),
        response: { 202: SongSchema, ...problems(400, 401, 403, 404, 413, 415) },
      },
    },
    async (request, reply) => {
      const caller = request.user as AuthUser;
      await media.songToManage(caller, request.params.id);
      const file = await readUpload(request, storage, opts.uploadMaxBytes);
      return reply.code(202).send(await media.replaceAudio(caller, request.params.id, file));
    },
  );

  app.delete(
    '/songs/:id/audio',
    {
      preHandler: publisher,
      schema: {
        tags: ['media'],
        operationId: 'deleteSongAudio',
        summary: "Remove a song's audio",
        description: "Removes a song's audio; its files go when nothing else plays them.",
        security: bearerSecurity,
        params: IdParams,
        response: { 204: Type.Null(), ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await media.deleteAudio(request.user as AuthUser, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/songs/:id/stream',
    {
      preHandler: signedIn,
      schema: {
        tags: ['media'],
        operationId: 'streamSong',
        summary: 'Redirect to a signed URL of the song',
        description: `One quality: low 64, medium 128, high 320 kbps MP3 (never above the source), or the original file. The URL needs no Authorization header and expires.`,
        security: bearerSecurity,
        params: IdParams,
        querystring: Type.Object(
          { quality: Type.Optional(Type.Enum([...QUALITIES], { default: 'medium' })) },
          { additionalProperties: false },
        ),
        response: { 302: Type.Null(), ...problems(401, 404, 409) },
      },
    },
    async (request, reply) => {
      const quality = (request.query.quality ?? 'medium') as Quality;
      const url = await media.streamUrl(request.user, request.params.id, quality);
      return reply.header('cache-control', 'private, no-store').redirect(url, 302);
    },
  );

  app.get(
    '/songs/:id/hls',
    {
      preHandler: signedIn,
      schema: {
        tags: ['media'],
        operationId: 'getSongHls',
        summary: 'Stream a song over HLS',
        description: 'Redirects to the signed HLS master playlist of the song.',
        security: bearerSecurity,
        params: IdParams,
        response: { 302: Type.Null(), ...problems(401, 404, 409) },
      },
    },
    async (request, reply) => {
      const url = await media.hlsUrl(request.user, request.params.id);
      return reply.header('cache-control', 'private, no-store').redirect(url, 302);
    },
  );

  /** PUT and DELETE of one picture; `owns` runs before any byte of an upload is read. */
  const imageRoute = (
    url: string,
    resource: {
      schema: typeof AlbumSchema | typeof ArtistSchema | typeof UserSchema;
      name: string;
      /** PascalCase, for the operationIds: `uploadAlbumCover`, `deleteAlbumCover`. */
      operation: string;
    },
    owns: (caller: AuthUser, id: string) => Promise<unknown>,
    set: (caller: AuthUser, id: string, file: ReceivedFile | null) => Promise<unknown>,
  ) => {
    const mine = url.startsWith('/me');
    const params = mine ? {} : { params: IdParams };
    const idOf = (request: FastifyRequest) => (request.params as { id?: string }).id ?? '';
    app.put(
      url,
      {
        preHandler: mine ? signedIn : publisher,
        bodyLimit: opts.imageMaxBytes + 1024 * 1024,
        schema: {
          operationId: `upload${resource.operation}`,
          tags: ['media'],
          summary: `Upload the ${resource.name} picture (JPEG, PNG or WebP)`,
          description: 'Resized to 640, 300 and 64 px squares; the URLs are public and immutable.',
          security: bearerSecurity,
          ...params,
          body: uploadBody(['image/jpeg', 'image/png', 'image/webp']),
          response: { 200: resource.schema, ...problems(400, 401, 403, 404, 413, 415) },
        },
      },
      async (request) => {
        const caller = request.user as AuthUser;
        await owns(caller, idOf(request));
        const file = await readUpload(request, storage, opts.imageMaxBytes);
        return (await set(caller, idOf(request), file)) as never;
      },
    );
    app.delete(
      url,
      {
        preHandler: mine ? signedIn : publisher,
        schema: {
          operationId: `delete${resource.operation}`,
          tags: ['media'],
          summary: `Remove the ${resource.name} picture`,
          description: `Removes the ${resource.name} picture; its files go when nothing else shows them.`,
          security: bearerSecurity,
          ...params,
          response: { 204: Type.Null(), ...problems(401, 403, 404) },
        },
      },
      async (request, reply) => {
        await set(request.user as AuthUser, idOf(request), null);
        return reply.code(204).send(null);
      },
    );
  };
  imageRoute(
    '/albums/:id/cover',
    { schema: AlbumSchema, name: 'album cover', operation: 'AlbumCover' },
    media.albumToManage,
    media.setAlbumCover,
  );
  imageRoute(
    '/artists/:id/image',
    { schema: ArtistSchema, name: 'artist', operation: 'ArtistImage' },
    media.artistToManage,
    media.setArtistImage,
  );
  imageRoute(
    '/me/avatar',
    { schema: UserSchema, name: 'avatar', operation: 'Avatar' },
    async () => {},
    (caller, _id, file) => media.setAvatar(caller, file),
  );
};

const HASH = /^[0-9a-f]{64}$/;
const AUDIO_FILE = /^(?:[0-9]{2,3}k\.mp3|original\.[a-z0-9]{2,5}|hls\/[0-9]{2,3}k\/seg[0-9]{4}\.ts)$/;
const VARIANT = /^hls\/([0-9]{2,3}k)\/index\.m3u8$/;
const IMAGE_FILE = /^([0-9a-f]{64})-([0-9]{2,3})\.jpg$/;
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
const IMMUTABLE = 'public, max-age=31536000, immutable';

const notFound = mediaNotFound;

/** Routes outside /api/v1: the signed audio files and the public images. */
export const mediaFileRoutes: FastifyPluginAsyncTypebox<MediaRouteOptions> = async (app, opts) => {
  const { media, signer } = opts;
  const Signed = Type.Object(
    { exp: Type.Optional(Type.String()), sig: Type.Optional(Type.String()) },
    { additionalProperties: false },
  );

  app.route({
    method: ['GET', 'HEAD'],
    url: '/media/audio/:hash/*',
    schema: {
      tags: ['media'],
      operationId: 'getAudioFile',
      summary: 'A signed audio file or HLS playlist or segment',
      description:
        'The original, a rendition, or an HLS playlist or segment. Reached through the redirects of /songs/:id/stream and /songs/:id/hls. Supports Range.',
      params: Type.Object({ hash: Type.String(), '*': Type.String() }),
      querystring: Signed,
    },
    config: { rateLimit: false },
    handler: async (request, reply) => {
      const { hash, '*': file } = request.params as { hash: string; '*': string };
      const path = request.url.split('?')[0] ?? '';
      const { expiresAt, secondsLeft } = signer.verify(path, request.query.exp, request.query.sig);
      if (!HASH.test(hash)) throw notFound();
      const cacheControl = `private, max-age=${secondsLeft}`;
      if (file === 'hls/master.m3u8' || VARIANT.test(file)) {
        const variant = VARIANT.exec(file)?.[1];
        const text = variant
          ? await media.variantPlaylist(hash, variant, expiresAt)
          : await media.masterPlaylist(hash, expiresAt);
        if (text === null) throw notFound();
        return reply.header('cache-control', cacheControl).type(PLAYLIST_TYPE).send(text);
      }
      if (!AUDIO_FILE.test(file)) throw notFound();
      const resolved = await media.resolveAudioFile(hash, file);
      if (!resolved) throw notFound();
      const contentType = file.endsWith('.ts')
        ? 'video/mp2t'
        : (CONTENT_TYPES[resolved.ext] ?? 'application/octet-stream');
      return sendFile(request, reply, resolved.path, { contentType, cacheControl });
    },
  });

  app.route({
    method: ['GET', 'HEAD'],
    url: '/media/images/:name',
    schema: {
      tags: ['media'],
      operationId: 'getImage',
      summary: 'Get a picture',
      description: 'A public, immutable picture (album cover, artist image, avatar).',
      params: Type.Object({ name: Type.String() }),
    },
    config: { rateLimit: false },
    handler: async (request, reply) => {
      const match = IMAGE_FILE.exec((request.params as { name: string }).name);
      if (!match || !media.imageSizes.includes(Number(match[2]))) throw notFound();
      return sendFile(request, reply, media.imagePath(match[1] as string, Number(match[2])), {
        contentType: 'image/jpeg',
        cacheControl: IMMUTABLE,
      });
    },
  });
};
