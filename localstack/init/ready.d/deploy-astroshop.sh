#!/usr/bin/env bash
# Deploys the shop into LocalStack from the `sam build` output, exactly the
# template the cloud gets, and prints the URL to test against.
set -euo pipefail

build=/opt/astroshop/build
if [ ! -f "$build/template.yaml" ]; then
  echo "astroshop: no $build/template.yaml; run 'sam build' at the repository root first" >&2
  exit 1
fi

bucket=astroshop-artifacts
awslocal s3 mb "s3://$bucket" >/dev/null 2>&1 || true
awslocal cloudformation package \
  --template-file "$build/template.yaml" \
  --s3-bucket "$bucket" \
  --output-template-file /tmp/astroshop-packaged.yaml
awslocal cloudformation deploy \
  --template-file /tmp/astroshop-packaged.yaml \
  --stack-name astroshop \
  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND

api_id=$(awslocal apigatewayv2 get-apis --query "Items[?Name=='astroshop'].ApiId | [0]" --output text)
echo "astroshop is deployed on LocalStack:"
echo "  ASTROSHOP_BASE_URL=http://$api_id.execute-api.localhost.localstack.cloud:4566"
