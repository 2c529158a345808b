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
output() {
  awslocal cloudformation describe-stacks --stack-name astroshop \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue | [0]" --output text
}
secret() {
  awslocal ssm get-parameter --with-decryption --name "$(output "$1")" --query Parameter.Value --output text
}
echo "astroshop is deployed on LocalStack; the end-to-end tests need:"
echo "  ASTROSHOP_BASE_URL=http://$api_id.execute-api.localhost.localstack.cloud:4566"
echo "  ASTROSHOP_ADMIN_KEY=$(secret AdminKeyParameter)"
echo "  ASTROSHOP_ORDER_LINK_KEY=$(secret OrderLinkKeyParameter)"
echo "  ASTROSHOP_SHOPPER_POOL_ID=$(output ShopperPoolId)"
echo "  ASTROSHOP_SHOPPER_POOL_CLIENT_ID=$(output ShopperPoolClientId)"
