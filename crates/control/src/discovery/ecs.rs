//! ECS services with `serviceRegistries`: their tasks registered in Cloud Map.
