# Nexum on AWS (the deployment guide's Infrastructure as Code): a VPC over two or three
# availability zones, RDS PostgreSQL (database.tf), the API on ECS Fargate (ecs.tf) behind an
# Application Load Balancer with a WAF rate limit (alb.tf), scaling on CPU and memory.
# No secret is an input or a resource value here: see secrets.tf.

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = "nexum"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

data "aws_availability_zones" "available" {
  state = "available"
}

data "aws_partition" "current" {}

locals {
  name = "nexum-${var.environment}"
  azs  = slice(data.aws_availability_zones.available.names, 0, var.az_count)
}

# VPC and networking

resource "aws_vpc" "nexum_vpc" {
  cidr_block           = var.vpc_cidr
  enable_dns_hostnames = true
  enable_dns_support   = true

  tags = {
    Name = "nexum-vpc"
  }
}

# The API and the database: no route from the internet.
resource "aws_subnet" "nexum_private" {
  count             = var.az_count
  vpc_id            = aws_vpc.nexum_vpc.id
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, count.index + 1)
  availability_zone = local.azs[count.index]

  tags = {
    Name = "nexum-private-${count.index + 1}"
    Tier = "private"
  }
}

# The load balancer and the NAT gateways only; nothing there gets a public address by default.
resource "aws_subnet" "nexum_public" {
  count                   = var.az_count
  vpc_id                  = aws_vpc.nexum_vpc.id
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, count.index + 10)
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false

  tags = {
    Name = "nexum-public-${count.index + 1}"
    Tier = "public"
  }
}

resource "aws_internet_gateway" "nexum" {
  vpc_id = aws_vpc.nexum_vpc.id

  tags = {
    Name = "nexum-igw"
  }
}

resource "aws_route_table" "nexum_public" {
  vpc_id = aws_vpc.nexum_vpc.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.nexum.id
  }

  tags = {
    Name = "nexum-public"
  }
}

resource "aws_route_table_association" "nexum_public" {
  count          = var.az_count
  subnet_id      = aws_subnet.nexum_public[count.index].id
  route_table_id = aws_route_table.nexum_public.id
}

# One NAT gateway per zone, so that losing a zone does not cut the others off (the tasks
# reach ECR, Secrets Manager and CloudWatch through them).
resource "aws_eip" "nexum_nat" {
  count  = var.az_count
  domain = "vpc"

  tags = {
    Name = "nexum-nat-${count.index + 1}"
  }
}

resource "aws_nat_gateway" "nexum" {
  count         = var.az_count
  allocation_id = aws_eip.nexum_nat[count.index].id
  subnet_id     = aws_subnet.nexum_public[count.index].id

  tags = {
    Name = "nexum-nat-${count.index + 1}"
  }

  depends_on = [aws_internet_gateway.nexum]
}

resource "aws_route_table" "nexum_private" {
  count  = var.az_count
  vpc_id = aws_vpc.nexum_vpc.id

  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.nexum[count.index].id
  }

  tags = {
    Name = "nexum-private-${count.index + 1}"
  }
}

resource "aws_route_table_association" "nexum_private" {
  count          = var.az_count
  subnet_id      = aws_subnet.nexum_private[count.index].id
  route_table_id = aws_route_table.nexum_private[count.index].id
}

# Security groups: internet -> ALB (443, 80 for the redirect) -> API (8090) -> database (5432).

resource "aws_security_group" "nexum_alb" {
  name        = "${local.name}-alb"
  description = "Nexum load balancer"
  vpc_id      = aws_vpc.nexum_vpc.id
}

resource "aws_vpc_security_group_ingress_rule" "nexum_alb_https" {
  for_each          = toset(var.allowed_ingress_cidrs)
  security_group_id = aws_security_group.nexum_alb.id
  description       = "HTTPS from clients"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "nexum_alb_http" {
  for_each          = toset(var.allowed_ingress_cidrs)
  security_group_id = aws_security_group.nexum_alb.id
  description       = "HTTP from clients, redirected to HTTPS"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "nexum_alb_to_api" {
  security_group_id            = aws_security_group.nexum_alb.id
  description                  = "To the API tasks"
  referenced_security_group_id = aws_security_group.nexum_api.id
  ip_protocol                  = "tcp"
  from_port                    = 8090
  to_port                      = 8090
}

resource "aws_security_group" "nexum_api" {
  name        = "${local.name}-api"
  description = "Nexum API tasks"
  vpc_id      = aws_vpc.nexum_vpc.id
}

resource "aws_vpc_security_group_ingress_rule" "nexum_api_from_alb" {
  security_group_id            = aws_security_group.nexum_api.id
  description                  = "From the load balancer"
  referenced_security_group_id = aws_security_group.nexum_alb.id
  ip_protocol                  = "tcp"
  from_port                    = 8090
  to_port                      = 8090
}

resource "aws_vpc_security_group_egress_rule" "nexum_api_https" {
  security_group_id = aws_security_group.nexum_api.id
  description       = "HTTPS to AWS APIs (ECR, Secrets Manager, CloudWatch Logs)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "nexum_api_in_vpc" {
  security_group_id = aws_security_group.nexum_api.id
  description       = "PostgreSQL, Redis and Kafka inside the VPC"
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = 0
  to_port           = 65535
}

resource "aws_security_group" "nexum_db" {
  name        = "${local.name}-db"
  description = "Nexum PostgreSQL"
  vpc_id      = aws_vpc.nexum_vpc.id
}

resource "aws_vpc_security_group_ingress_rule" "nexum_db_from_api" {
  security_group_id            = aws_security_group.nexum_db.id
  description                  = "PostgreSQL from the API tasks"
  referenced_security_group_id = aws_security_group.nexum_api.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}
