import { Type } from 'typebox';
import { PageQuery } from '../../platform/http.js';

export const FollowingPageQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
