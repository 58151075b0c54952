"""moto's behaviour replaced while the local cloud runs, each patch in one place, one module per seam.

Each patch says why it exists, in one word first:
- Fidelity: moto answers differently from AWS (a multipart upload notifies twice, a task token
  outlives its wait, a function runs in Docker); the patch makes it answer as AWS does.
- Speed: moto answers as AWS does but slowly (or keeps what it no longer needs); the patch changes
  the cost, never the answer. tests/unit/test_local_dynamodb.py holds the DynamoDB ones to moto's answers.

Modules: awslambda (functions run by the local cloud's workers), dynamodb and dynamodb_parsing,
stepfunctions, s3, ses (a sending rate, when set), iam (IAM's decision before moto answers), routing
(moto's server), and patching (the `replaced` every patch is made with).
"""
