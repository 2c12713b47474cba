/**
 * The Coordinator service as both ends use it: the generated definition, with the methods that
 * carry tensor bytes (GetData, GetParams, SubmitResult) serialized by shared/cluster/tensor-wire
 * instead of ts-proto's generated code. The wire format is the same, so a client built from the
 * plain generated definition still talks to this server (test/cluster/rogue-client.test.ts does).
 */
import { makeGenericClientConstructor } from '@grpc/grpc-js';
import { CoordinatorClient as GeneratedClient, CoordinatorService as GeneratedService } from '../proto/gen/cluster.js';
import { decodeResultChunk, decodeTensorChunk, encodeResultChunk, encodeTensorChunk } from './tensor-wire.js';

const tensorReplies = { responseSerialize: encodeTensorChunk, responseDeserialize: decodeTensorChunk };

export const CoordinatorService: typeof GeneratedService = {
  ...GeneratedService,
  getData: { ...GeneratedService.getData, ...tensorReplies },
  getParams: { ...GeneratedService.getParams, ...tensorReplies },
  submitResult: { ...GeneratedService.submitResult, requestSerialize: encodeResultChunk, requestDeserialize: decodeResultChunk },
};

/** The generated client's interface over the definition above. */
export const CoordinatorClient = makeGenericClientConstructor(CoordinatorService, 'gradfleet.v1.Coordinator') as unknown as typeof GeneratedClient;
export type CoordinatorClient = GeneratedClient;
